terraform {
  # Provider-free on purpose: rendering the ASL needs no AWS API, so tests (and
  # tools) can `terraform apply` this module offline and read the JSON.
  required_version = ">= 1.9"
}
