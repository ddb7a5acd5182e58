#!/usr/bin/env bash
# Terraform wrapper for mailstep: offline provider mirror + local sandbox.
#
#   scripts/tf.sh [-chdir=DIR] init|validate|plan|apply|destroy|<any terraform command> [args...]
#
# Provider installation
#   When a filesystem mirror of registry.terraform.io/hashicorp/aws exists (set
#   MAILSTEP_TF_MIRROR, or found at /opt/tf-plugins, or found once by searching the
#   filesystem; the result is cached in build/tf-mirror), the script writes
#   build/terraformrc with a filesystem_mirror for hashicorp/aws and points
#   TF_CLI_CONFIG_FILE at it, so `init` never tries the registry. Without a mirror
#   (a user's machine), plain registry init is used.
#
# Credentials and the local sandbox (plan/apply/destroy/refresh/import)
#   MAILSTEP_TARGET=aws    use your AWS credentials (fails clearly without any).
#   MAILSTEP_TARGET=local  run against the local sandbox: a moto server on
#                          127.0.0.1 (python -m mailstep.local.server) with fake
#                          credentials and a separate `local` workspace, so nothing
#                          touches a real account or your real state (output, show
#                          and state commands read that workspace too).
#   unset (default)        aws when credentials are found; without any, `plan`
#                          runs against the local sandbox (with a notice: it shows
#                          what an empty account would get) and the other commands
#                          stop with a message saying what to configure.
#   MAILSTEP_SANDBOX_URL   reuse a sandbox that is already running (local target).
#
# No provider flags are needed for the sandbox (skip_credentials_validation and
# friends): moto answers STS and every other call; AWS_MAX_ATTEMPTS=1 makes a call
# moto lacks fail at once instead of being retried 25 times.
#
# DIR defaults to the repository root (the root module).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${repo_root}/build"
python="${MAILSTEP_PYTHON:-${repo_root}/.venv/bin/python}"

die() {
  printf 'tf.sh: %s\n' "$*" >&2
  exit 1
}
note() { printf 'tf.sh: %s\n' "$*" >&2; }

command -v terraform >/dev/null 2>&1 || die "terraform is not installed (need >= 1.11: https://developer.hashicorp.com/terraform/install)"

# --- arguments ---------------------------------------------------------------
workdir="${repo_root}"
if [[ "${1:-}" == -chdir=* ]]; then
  workdir="${1#-chdir=}"
  shift
fi
[[ -d "${workdir}" ]] || die "no such directory: ${workdir}"
workdir="$(cd "${workdir}" && pwd)"

[[ $# -ge 1 ]] || die "usage: scripts/tf.sh [-chdir=DIR] init|validate|plan|apply|destroy|<terraform command> [args...]"
subcommand="$1"
shift

# --- provider mirror ---------------------------------------------------------
aws_provider_dir="registry.terraform.io/hashicorp/aws"

find_mirror() {
  if [[ -n "${MAILSTEP_TF_MIRROR:-}" ]]; then
    [[ -d "${MAILSTEP_TF_MIRROR}/${aws_provider_dir}" ]] ||
      die "MAILSTEP_TF_MIRROR=${MAILSTEP_TF_MIRROR} holds no ${aws_provider_dir}"
    printf '%s\n' "${MAILSTEP_TF_MIRROR}"
    return
  fi
  if [[ -d "/opt/tf-plugins/${aws_provider_dir}" ]]; then
    printf '%s\n' "/opt/tf-plugins"
    return
  fi
  local cache="${build_dir}/tf-mirror" found
  if [[ -f "${cache}" ]]; then
    found="$(cat "${cache}")"
    if [[ -z "${found}" || -d "${found}/${aws_provider_dir}" ]]; then
      printf '%s\n' "${found}"
      return
    fi
  fi
  # Terraform's implied local mirror directories first, then one bounded search of
  # the filesystem (skipping pseudo filesystems and Terraform working directories,
  # which only hold links); the result is cached ("" = no mirror on this machine).
  local dir
  found=""
  for dir in "${HOME:-/nonexistent}/.terraform.d/plugins" "${HOME:-/nonexistent}/.local/share/terraform/plugins" \
    /usr/local/share/terraform/plugins /usr/share/terraform/plugins; do
    if [[ -d "${dir}/${aws_provider_dir}" ]]; then
      found="${dir}"
      break
    fi
  done
  if [[ -z "${found}" ]]; then
    local bounded=()
    command -v timeout >/dev/null 2>&1 && bounded=(timeout 60)
    found="$(${bounded[@]+"${bounded[@]}"} find / \( -path /proc -o -path /sys -o -path /dev -o -name .terraform \) -prune -o \
      -path "*/${aws_provider_dir}/*" -name 'terraform-provider-aws*' -type f -print 2>/dev/null |
      head -n 1 || true)"
    found="${found%%/"${aws_provider_dir}"/*}"
  fi
  mkdir -p "${build_dir}"
  printf '%s' "${found}" >"${cache}"
  printf '%s\n' "${found}"
}

mirror="$(find_mirror)"
cli_config="${build_dir}/terraformrc"
mkdir -p "${build_dir}"
if [[ -n "${mirror}" ]]; then
  cat >"${cli_config}.tmp" <<EOF
# Written by scripts/tf.sh: install hashicorp/aws from the local mirror only.
provider_installation {
  filesystem_mirror {
    path    = "${mirror}"
    include = ["${aws_provider_dir}"]
  }
  direct {
    exclude = ["${aws_provider_dir}"]
  }
}
EOF
  mv "${cli_config}.tmp" "${cli_config}"
  export TF_CLI_CONFIG_FILE="${cli_config}"
elif [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "${TF_CLI_CONFIG_FILE}" ]]; then
  # A preset config path that does not exist only produces warnings: use an
  # empty config instead (plain registry installation).
  printf '# Written by scripts/tf.sh: no provider mirror, registry installation.\n' >"${cli_config}"
  export TF_CLI_CONFIG_FILE="${cli_config}"
fi
export TF_IN_AUTOMATION="${TF_IN_AUTOMATION:-1}"
export TF_INPUT="${TF_INPUT:-0}"

# --- credentials / local sandbox ---------------------------------------------
have_aws_credentials() {
  [[ -n "${AWS_ACCESS_KEY_ID:-}" || -n "${AWS_PROFILE:-}" || -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ||
    -n "${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}" || -n "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ]] && return 0
  [[ -s "${AWS_SHARED_CREDENTIALS_FILE:-${HOME}/.aws/credentials}" ]] && return 0
  grep -qsE '^\s*(sso_|credential_process|role_arn)' "${AWS_CONFIG_FILE:-${HOME}/.aws/config}" && return 0
  return 1
}

sandbox_pid=""
stop_sandbox() {
  if [[ -n "${sandbox_pid}" ]]; then
    kill "${sandbox_pid}" 2>/dev/null || true
    wait "${sandbox_pid}" 2>/dev/null || true
    sandbox_pid=""
  fi
}

start_sandbox() {
  if [[ -n "${MAILSTEP_SANDBOX_URL:-}" ]]; then
    export AWS_ENDPOINT_URL="${MAILSTEP_SANDBOX_URL}"
    return
  fi
  [[ -x "${python}" ]] || die "the local sandbox needs the project venv: run \`make setup\` (or set MAILSTEP_PYTHON)"
  local ready="${build_dir}/sandbox.ready.$$"
  rm -f "${ready}"
  PYTHONPATH="${repo_root}/lambda_src${PYTHONPATH:+:${PYTHONPATH}}" \
    "${python}" -m mailstep.local.server --port 0 --ready-file "${ready}" >"${build_dir}/sandbox.log" 2>&1 &
  sandbox_pid=$!
  trap stop_sandbox EXIT
  local _
  for _ in $(seq 1 100); do
    [[ -s "${ready}" ]] && break
    kill -0 "${sandbox_pid}" 2>/dev/null || die "the local sandbox did not start; see ${build_dir}/sandbox.log"
    sleep 0.1
  done
  [[ -s "${ready}" ]] || die "the local sandbox did not start within 10 s; see ${build_dir}/sandbox.log"
  AWS_ENDPOINT_URL="$(cat "${ready}")"
  export AWS_ENDPOINT_URL
  rm -f "${ready}"
}

# Sandbox state lives in the `local` workspace, away from the directory's real state.
use_local_workspace() {
  export TF_WORKSPACE=local
  mkdir -p "${workdir}/terraform.tfstate.d/local"
}

use_local_target() {
  start_sandbox
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
  export AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS="${AWS_MAX_ATTEMPTS:-1}"
  unset AWS_PROFILE
  use_local_workspace
  note "target: LOCAL SANDBOX at ${AWS_ENDPOINT_URL} (workspace 'local'); nothing is sent to AWS."
}

needs_target=false
case "${subcommand}" in
  plan | apply | destroy | refresh | import) needs_target=true ;;
esac

if [[ "${needs_target}" == false && "${MAILSTEP_TARGET:-}" == local ]]; then
  use_local_workspace # output, show, state... read the sandbox state
fi

if [[ "${needs_target}" == true ]]; then
  case "${MAILSTEP_TARGET:-auto}" in
    local) use_local_target ;;
    aws)
      have_aws_credentials || die "MAILSTEP_TARGET=aws but no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or run \`aws sso login\`)."
      ;;
    auto)
      if ! have_aws_credentials; then
        if [[ "${subcommand}" != plan ]]; then
          die "no AWS credentials found (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws): configure them to ${subcommand} in your account, or set MAILSTEP_TARGET=local for a throwaway local sandbox."
        fi
        note "no AWS credentials found (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws): planning against the local sandbox,"
        note "i.e. what an empty account would get. Configure credentials (or MAILSTEP_TARGET=aws) to plan against your account."
        use_local_target
      fi
      ;;
    *) die "MAILSTEP_TARGET must be aws, local or unset (got '${MAILSTEP_TARGET}')" ;;
  esac
fi

# --- run -----------------------------------------------------------------------
tf() { terraform -chdir="${workdir}" "$@"; }

case "${subcommand}" in
  init)
    tf init -input=false "$@"
    ;;
  validate)
    if [[ ! -d "${TF_DATA_DIR:-${workdir}/.terraform}/providers" ]]; then
      tf init -input=false -backend=false >/dev/null
    fi
    tf validate "$@"
    ;;
  plan | apply | destroy)
    if [[ ! -d "${TF_DATA_DIR:-${workdir}/.terraform}/providers" ]]; then
      tf init -input=false >/dev/null
    fi
    tf "${subcommand}" "$@"
    ;;
  *)
    tf "${subcommand}" "$@"
    ;;
esac
