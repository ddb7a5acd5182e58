variable "definition" {
  description = "One sequence, as decoded from its YAML file: `yamldecode(file(\"sequences/<id>.yaml\"))`. sequences/schema.json describes every field; modules/asl validates it at plan time (ids, jumps, step shapes, durations) and renders the state machine."
  # Keep this type identical to modules/asl/variables.tf (a test compares them).
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
}

variable "core" {
  description = "The core module's `core` output, passed whole (`core = module.core.core`). Only the attributes below are read; the others are ignored."
  type = object({
    name_prefix                  = string
    region                       = string
    account_id                   = string
    partition                    = string
    event_bus_name               = string
    send_email_function_arn      = string
    check_condition_function_arn = string
    dlq_arn                      = string
    log_retention_days           = optional(number, 30)
    tags                         = optional(map(string), {})
    # Files under templates/ (e.g. onboarding/welcome.html); when given, every
    # template the sequence names must be there. null skips the check.
    template_keys = optional(list(string))
  })
}
