variable "definition" {
  description = "One sequence, as decoded from its YAML file (`yamldecode(file(...))`); sequences/schema.json describes every field. Steps without an id (waits) get `wait-<position>`."
  # Keep this type identical to modules/sequence/variables.tf (a test compares them).
  type = object({
    id          = string
    description = optional(string)
    trigger = object({
      detail_type = string
      # schema.json allows a string or a list of strings: the one attribute HCL cannot
      # type more tightly (validated below). Within one list (exit_on, events) use one
      # form for every item: Terraform cannot unify a string with a list.
      source = optional(any)
      subscriber = optional(object({
        email      = string
        first_name = optional(string, "$.detail.firstName")
        attributes = optional(string, "$.detail")
      }), { email = "$.detail.email" })
      dedupe_key = optional(string)
    })
    reentry = optional(string, "ignore_while_active")
    sender = object({
      from     = string
      reply_to = optional(string)
    })
    transactional = optional(bool, false)
    timeout_days  = optional(number, 90)
    exit_on = optional(list(object({
      detail_type = string
      source      = optional(any)
      email       = optional(string)
    })), [])
    events = optional(list(object({
      id          = string
      detail_type = string
      source      = optional(any)
      template    = string
      subject     = string
      subscriber = optional(object({
        email      = string
        first_name = optional(string, "$.detail.firstName")
        attributes = optional(string, "$.detail")
      }))
    })), [])
    steps = list(object({
      type     = string
      id       = optional(string)
      next     = optional(string)
      template = optional(string)
      subject  = optional(string)
      variants = optional(list(object({
        name     = string
        template = string
        subject  = string
      })))
      days    = optional(number)
      hours   = optional(number)
      minutes = optional(number)
      check   = optional(string)
      field   = optional(string)
      value   = optional(string)
      then    = optional(string)
      else    = optional(string)
      choices = optional(list(object({
        value = string
        next  = string
      })))
      default = optional(string)
    }))
  })

  # Validations see only var.* (a local derived from var.definition would be a
  # cycle), so step ids are recomputed inline as `id or "wait-<position>"`.

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.definition.id)) && length(var.definition.id) <= 40
    error_message = "Sequence id \"${var.definition.id}\" must be kebab-case (lowercase letters and digits in words joined by single hyphens, starting with a letter) and at most 40 characters, e.g. trial-expiring."
  }

  validation {
    condition     = length("${var.name_prefix}-${var.definition.id}") <= 80
    error_message = "The state machine name \"${var.name_prefix}-${var.definition.id}\" is longer than the 80 characters Step Functions allows: shorten the sequence id or the name prefix."
  }

  validation {
    condition = alltrue([
      for id in concat([for s in var.definition.steps : s.id if s.id != null], [for e in var.definition.events : e.id]) :
      can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", id)) && length(id) <= 40 && id != "end"
    ])
    error_message = "Step and event ids must be kebab-case, at most 40 characters and not \"end\" (which means: finish the run). Not valid: ${join(", ", [for id in concat([for s in var.definition.steps : s.id if s.id != null], [for e in var.definition.events : e.id]) : "\"${id}\"" if !(can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", id)) && length(id) <= 40 && id != "end")])}."
  }

  validation {
    condition     = length(var.definition.steps) >= 1 && length(var.definition.steps) <= 100
    error_message = "A sequence needs between 1 and 100 steps; this one has ${length(var.definition.steps)}."
  }

  validation {
    condition     = alltrue([for s in var.definition.steps : contains(["send", "wait", "condition", "choice"], s.type)])
    error_message = "Every step type must be send, wait, condition or choice. Unknown: ${join(", ", [for i, s in var.definition.steps : "step ${i + 1} (type \"${s.type}\")" if !contains(["send", "wait", "condition", "choice"], s.type)])}."
  }

  validation {
    condition     = alltrue([for s in var.definition.steps : s.id != null || s.type == "wait"])
    error_message = "Send, condition and choice steps need an id (other steps and the reports refer to them by it). Missing on: ${join(", ", [for i, s in var.definition.steps : "step ${i + 1} (${s.type})" if s.id == null && s.type != "wait"])}."
  }

  validation {
    condition = length(distinct([for i, s in var.definition.steps : coalesce(s.id, "wait-${i + 1}")])) == length(var.definition.steps)
    error_message = "Step ids must be unique (a wait without an id is called wait-<position>). Used more than once: ${join(", ", distinct([
      for i, s in var.definition.steps : "\"${coalesce(s.id, "wait-${i + 1}")}\""
      if length([for j, t in var.definition.steps : j if coalesce(t.id, "wait-${j + 1}") == coalesce(s.id, "wait-${i + 1}")]) > 1
    ]))}."
  }

  validation {
    # Every jump names a step of this sequence or `end`.
    condition = alltrue([
      for target in flatten([
        for s in var.definition.steps : concat(
          [for t in [s.next, s.then, s.else, s.default] : t if t != null],
          [for c in coalesce(s.choices, []) : c.next],
        )
      ]) : contains(concat(["end"], [for i, s in var.definition.steps : coalesce(s.id, "wait-${i + 1}")]), target)
    ])
    error_message = "Every next, then, else, choices[].next and default must name a step id of this sequence or \"end\". Unknown: ${join(", ", distinct(flatten([
      for i, s in var.definition.steps : [
        for t in concat([for t in [s.next, s.then, s.else, s.default] : t if t != null], [for c in coalesce(s.choices, []) : c.next]) :
        "\"${t}\" (in step ${coalesce(s.id, "wait-${i + 1}")})"
        if !contains(concat(["end"], [for j, u in var.definition.steps : coalesce(u.id, "wait-${j + 1}")]), t)
      ]
    ])))}."
  }

  validation {
    condition     = alltrue([for s in var.definition.steps : s.next == null || contains(["send", "wait"], s.type)])
    error_message = "Only send and wait steps take `next`; condition steps branch with then/else and choice steps with choices/default. Remove next from: ${join(", ", [for i, s in var.definition.steps : coalesce(s.id, "step ${i + 1}") if s.next != null && !contains(["send", "wait"], s.type)])}."
  }

  validation {
    # template + subject, or at least two variants: never both, never neither.
    condition = alltrue([
      for s in var.definition.steps : s.type != "send" || (
        s.variants == null ? (s.template != null && s.subject != null) : (s.template == null && s.subject == null && length(s.variants) >= 2 && length(s.variants) <= 5)
      )
    ])
    error_message = "A send step has either template and subject, or 2 to 5 variants (each with name, template and subject), never both. Check: ${join(", ", [
      for i, s in var.definition.steps : coalesce(s.id, "step ${i + 1}") if s.type == "send" && !(
        s.variants == null ? (s.template != null && s.subject != null) : (s.template == null && s.subject == null && length(s.variants) >= 2 && length(s.variants) <= 5)
      )
    ])}."
  }

  validation {
    condition = alltrue([
      for s in var.definition.steps : s.type != "wait" || (
        alltrue([for n in [s.days, s.hours, s.minutes] : n == null ? true : n >= 0 && floor(n) == n])
        && sum([for n in [s.days, s.hours, s.minutes, 0] : n == null ? 0 : n]) > 0
      )
    ])
    error_message = "A wait step needs a positive duration: days, hours and/or minutes as whole numbers, at least one of them above zero. Check: ${join(", ", [
      for i, s in var.definition.steps : coalesce(s.id, "wait-${i + 1}") if s.type == "wait" && !(
        alltrue([for n in [s.days, s.hours, s.minutes] : n == null ? true : n >= 0 && floor(n) == n])
        && sum([for n in [s.days, s.hours, s.minutes, 0] : n == null ? 0 : n]) > 0
      )
    ])}."
  }

  validation {
    condition = alltrue([
      for s in var.definition.steps : s.type != "condition" || (
        s.then != null && s.else != null && (
          s.check == "field_exists" ? s.field != null :
          s.check == "field_equals" ? s.field != null && s.value != null :
          s.check == "has_been_sent" ? s.template != null : false
        )
      )
    ])
    error_message = "A condition step needs then, else and a check: field_exists (with field), field_equals (with field and value) or has_been_sent (with template). Check: ${join(", ", [
      for i, s in var.definition.steps : coalesce(s.id, "step ${i + 1}") if s.type == "condition" && !(
        s.then != null && s.else != null && (
          s.check == "field_exists" ? s.field != null :
          s.check == "field_equals" ? s.field != null && s.value != null :
          s.check == "has_been_sent" ? s.template != null : false
        )
      )
    ])}."
  }

  validation {
    condition     = alltrue([for s in var.definition.steps : s.type != "choice" || (s.field != null && length(coalesce(s.choices, [])) >= 1 && length(coalesce(s.choices, [])) <= 20 && s.default != null)])
    error_message = "A choice step needs field, 1 to 20 choices (value and next) and default (where a subscriber without a matching or any value goes). Check: ${join(", ", [for i, s in var.definition.steps : coalesce(s.id, "step ${i + 1}") if s.type == "choice" && !(s.field != null && length(coalesce(s.choices, [])) >= 1 && length(coalesce(s.choices, [])) <= 20 && s.default != null)])}."
  }

  validation {
    # Fields become JSONPaths ($.subscriber.attributes.<field>): plain names only.
    condition     = alltrue([for s in var.definition.steps : s.field == null || can(regex("^[A-Za-z_][A-Za-z0-9_]*$", s.field))])
    error_message = "A field is an attribute name: letters, digits and underscores, not starting with a digit. Not valid: ${join(", ", [for s in var.definition.steps : "\"${s.field}\"" if s.field != null && !can(regex("^[A-Za-z_][A-Za-z0-9_]*$", s.field))])}."
  }

  validation {
    condition = alltrue([
      for t in concat(
        [for s in var.definition.steps : s.template if s.template != null],
        flatten([for s in var.definition.steps : [for v in coalesce(s.variants, []) : v.template]]),
        [for e in var.definition.events : e.template],
      ) : can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*/[A-Za-z0-9_-]+$", t))
    ])
    error_message = "Templates are named <sequence-id>/<name> (templates/<sequence-id>/<name>.html). Not valid: ${join(", ", [
      for t in concat(
        [for s in var.definition.steps : s.template if s.template != null],
        flatten([for s in var.definition.steps : [for v in coalesce(s.variants, []) : v.template]]),
        [for e in var.definition.events : e.template],
      ) : "\"${t}\"" if !can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*/[A-Za-z0-9_-]+$", t))
    ])}."
  }

  validation {
    # Subjects and sender addresses end up in mail headers.
    condition = alltrue([
      for t in concat(
        [for s in var.definition.steps : s.subject if s.subject != null],
        flatten([for s in var.definition.steps : [for v in coalesce(s.variants, []) : v.subject]]),
        [for e in var.definition.events : e.subject],
      ) : length(t) >= 1 && length(t) <= 900 && !can(regex("[\r\n]", t))
      ]) && alltrue([
      for a in compact([var.definition.sender.from, var.definition.sender.reply_to]) : strcontains(a, "@") && !can(regex("[\r\n]", a))
    ])
    error_message = "Subjects must be 1 to 900 characters on one line, and sender.from / sender.reply_to one-line addresses (\"Name <address>\" or an address)."
  }

  validation {
    condition     = contains(["ignore_while_active", "replace", "once"], var.definition.reentry)
    error_message = "reentry must be ignore_while_active (default), replace or once; got \"${var.definition.reentry}\"."
  }

  validation {
    condition     = var.definition.timeout_days >= 1 && var.definition.timeout_days <= 365 && floor(var.definition.timeout_days) == var.definition.timeout_days
    error_message = "timeout_days must be a whole number of days from 1 to 365; got ${var.definition.timeout_days}."
  }

  validation {
    condition     = length(distinct([for e in var.definition.events : e.id])) == length(var.definition.events) && length(var.definition.events) <= 20 && length(var.definition.exit_on) <= 20
    error_message = "events ids must be unique (each becomes its own rule), and events and exit_on hold at most 20 entries each."
  }

  validation {
    # JSONPaths EventBridge input transformers accept: $.a.b-c.d_e
    condition = alltrue([
      for p in compact(concat(
        values(var.definition.trigger.subscriber),
        [var.definition.trigger.dedupe_key],
        [for x in var.definition.exit_on : x.email],
        flatten([for e in var.definition.events : e.subscriber == null ? [] : values(e.subscriber)]),
      )) : can(regex("^\\$(\\.[A-Za-z0-9_-]+)*$", p)) && length(p) <= 256
    ])
    error_message = "Subscriber mappings, dedupe_key and exit_on email are JSONPaths into the event in dot notation, like $.detail.email. Not valid: ${join(", ", [
      for p in compact(concat(
        values(var.definition.trigger.subscriber),
        [var.definition.trigger.dedupe_key],
        [for x in var.definition.exit_on : x.email],
        flatten([for e in var.definition.events : e.subscriber == null ? [] : values(e.subscriber)]),
      )) : "\"${p}\"" if !(can(regex("^\\$(\\.[A-Za-z0-9_-]+)*$", p)) && length(p) <= 256)
    ])}."
  }

  validation {
    # `source` is typed `any`: accept exactly what schema.json allows.
    condition = alltrue([
      for src in concat([var.definition.trigger.source], [for x in var.definition.exit_on : x.source], [for e in var.definition.events : e.source]) :
      src == null || try(length(tostring(src)) > 0, false) || try(length(src) > 0 && alltrue([for s in src : length(tostring(s)) > 0]), false)
    ])
    error_message = "source (in trigger, exit_on and events) is an event source string or a non-empty list of them, like acme.app or [acme.app, acme.billing]."
  }
}

variable "name_prefix" {
  description = "Prefix of the state machine name (`<name_prefix>-<id>`, at most 80 characters); only validated here."
  type        = string
  default     = "mailstep"
}

variable "send_email_function_arn" {
  description = "ARN of the send-email function (register, send, complete and the cleanup path)."
  type        = string
}

variable "check_condition_function_arn" {
  description = "ARN of the check-condition function (condition steps)."
  type        = string
}
