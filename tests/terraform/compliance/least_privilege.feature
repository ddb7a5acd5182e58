Feature: Least privilege
  In order to limit what a compromised function can do
  As the operator of a mailstep stack
  Role policies name their actions, and the core's roles name their resources

  @noskip
  Scenario: Role policies grant no wildcard or service-wide action
    Given I have aws_iam_role_policy defined
    Then it must contain policy
    And it must contain Statement
    And it must contain Action
    And its value must not match the "^(\*|[A-Za-z0-9-]+:\*)$" regex

  # Some actions support no resource-level permission (e.g. the log delivery actions
  # a state machine needs): the sequence module's and the core's broadcast state
  # machine roles have those. The functions need none.
  @noskip
  Scenario: The core's function policies name every resource
    Given I have aws_iam_role_policy defined
    When its address metadata is "module\.core\.aws_iam_role_policy\.function\[.*" regex
    Then it must contain policy
    And it must contain Statement
    And it must contain Resource
    And its value must not match the "^\*$" regex

  # execution:<name_prefix>-*:* (sequences) or execution:<name_prefix>--broadcast:*
  @noskip
  Scenario: Functions may stop only executions of this stack's state machines
    Given I have aws_iam_role_policy defined
    When its address metadata is "module\.core\..*" regex
    Then it must contain policy
    And it must contain Statement
    When its Action includes "states:StopExecution"
    Then it must contain Resource
    And its value must match the "^arn:aws:states:[a-z0-9-]+:[0-9]{12}:execution:[a-z][a-z0-9-]*-(\*|-broadcast):\*$" regex
