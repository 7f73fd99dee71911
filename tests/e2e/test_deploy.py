"""./scripts/deploy puts credentials in Secret Manager, never in plain environment variables, gives each
function only the secrets its entry point reads, and never shows a secret value (issue 16, item 6).

The real script runs in a copy of the checkout against a recording stand-in for the Google Cloud CLI
(a gcloud on PATH that logs its arguments, its stdin and the --env-vars-file it was given), and with
--dry-run, which calls nothing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from harness import ROOT

pytestmark = pytest.mark.in_process

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-deploytest-bot-7f3a",
    "SLACK_SIGNING_SECRET": "signing-deploytest-91c2",
    "ACCESS_TOKEN": "access-deploytest-4d5e",
    "OPENAI_API_KEY": "sk-deploytest-openai-a1b2",
    "SLACK_USER_TOKEN": "xoxp-deploytest-user-c3d4",
    "NOTION_TOKEN": "ntn_deploytest_e5f6",
    "GITHUB_TOKEN": "github_pat_deploytest_0a9b",
}
DRIVE_KEY = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----deploytest-drive"}'
BOT_SECRETS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ACCESS_TOKEN"}
WORKER_SECRETS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY", "SLACK_USER_TOKEN", "NOTION_TOKEN",
                  "GITHUB_TOKEN", "/etc/threadwise-drive/credentials.json"}

# The stand-in gcloud: nothing exists yet (every describe fails), the project has a number, all else succeeds.
FAKE_GCLOUD = r'''#!PYTHON
import json, os, sys
argv = sys.argv[1:]
record = {"argv": argv, "stdin": "" if sys.stdin.isatty() else sys.stdin.read()}
if "--env-vars-file" in argv:
    record["env_file"] = open(argv[argv.index("--env-vars-file") + 1]).read()
with open(os.environ["GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(record) + "\n")
if argv[:2] == ["projects", "describe"]:
    print("123456789")
elif "describe" in argv or argv[:3] == ["secrets", "versions", "access"]:
    sys.exit(1)
'''


@pytest.fixture
def checkout(tmp_path):
    """The scripts and a filled-in .env.yaml in a directory of their own; a recording gcloud on PATH."""
    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    shutil.copy(ROOT / "requirements.txt", root / "requirements.txt")
    (root / "drive-key.json").write_text(DRIVE_KEY)
    lines = [f'{key}: "{value}"' for key, value in SECRETS.items()]
    lines += ['OPENAI_MODEL: "gpt-4.1-mini"', 'GOOGLE_DRIVE_CREDENTIALS: "drive-key.json"', 'ADMIN_USERS: "U0ADMIN"',
              'WORKER_TOKEN: "worker-deploytest-77aa"', 'SLACK_APP_TOKEN: "xapp-deploytest-88bb"', 'PORT: "8080"']
    (root / ".env.yaml").write_text("\n".join(lines) + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(FAKE_GCLOUD.replace("PYTHON", sys.executable))
    gcloud.chmod(0o755)
    return root, bin_dir, tmp_path / "gcloud.log"


def deploy(checkout, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    root, bin_dir, log = checkout
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GCLOUD_LOG": str(log),
           "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(root / "scripts" / "deploy"), "my-project", "europe-west1", *args],
                          cwd=root, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def every_secret() -> list[str]:
    return [*SECRETS.values(), DRIVE_KEY, "deploytest-drive", "worker-deploytest-77aa", "xapp-deploytest-88bb"]


def function_deploy(calls: list[dict], name: str) -> list[str]:
    return next(c["argv"] for c in calls if c["argv"][:3] == ["functions", "deploy", name])


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def secret_targets(argv: list[str]) -> set[str]:
    """The environment variables (or mount paths) --set-secrets fills, each from its threadwise-… secret."""
    pairs = [item.split("=", 1) for item in flag(argv, "--set-secrets").split(",")]
    assert all(ref.startswith("threadwise-") and ref.endswith(":latest") for _, ref in pairs), pairs
    return {target for target, _ in pairs}


def test_secrets_reach_gcloud_only_on_stdin_and_each_function_gets_only_its_own(checkout):
    done, calls = deploy(checkout)
    assert done.returncode == 0, done.stderr
    shown = done.stdout + done.stderr
    for call in calls:  # no secret in any argument or in the plain environment variables
        in_argv = " ".join(call["argv"]) + call.get("env_file", "")
        assert not [s for s in every_secret() if s in in_argv], call["argv"]
    assert not [s for s in every_secret() if s in shown], shown
    # Each credential went into its own Secret Manager secret, through gcloud's stdin.
    created = {c["argv"][2]: c["stdin"] for c in calls if c["argv"][:2] == ["secrets", "create"]}
    assert created == {"threadwise-" + key.lower().replace("_", "-"): value for key, value in SECRETS.items()} | {
        "threadwise-google-drive-credentials": DRIVE_KEY}
    assert all("--data-file=-" in c["argv"] for c in calls if c["argv"][:2] == ["secrets", "create"])
    # Each function: exactly the secrets its entry point reads, and its own service account.
    bot, worker = function_deploy(calls, "slack_bot"), function_deploy(calls, "slack_worker")
    assert secret_targets(bot) == BOT_SECRETS
    assert secret_targets(worker) == WORKER_SECRETS
    assert flag(bot, "--service-account") != flag(worker, "--service-account")
    # Only a function's own service account may read a secret it uses.
    readers = {}
    for call in calls:
        if call["argv"][:2] == ["secrets", "add-iam-policy-binding"]:
            assert flag(call["argv"], "--role") == "roles/secretmanager.secretAccessor"
            readers.setdefault(call["argv"][2], set()).add(flag(call["argv"], "--member"))
    bot_sa, worker_sa = (f"serviceAccount:{flag(argv, '--service-account')}" for argv in (bot, worker))
    assert readers["threadwise-openai-api-key"] == {worker_sa}
    assert readers["threadwise-access-token"] == {bot_sa}
    assert readers["threadwise-slack-bot-token"] == {bot_sa, worker_sa}
    # The plain settings arrive (the Drive key as the path it is mounted at), the Socket Mode and token-auth
    # credentials not at all.
    env_file = next(c["env_file"] for c in calls if c["argv"][:3] == ["functions", "deploy", "slack_bot"])
    assert 'OPENAI_MODEL: "gpt-4.1-mini"' in env_file and 'DISPATCH: "pubsub"' in env_file
    assert 'GOOGLE_DRIVE_CREDENTIALS: "/etc/threadwise-drive/credentials.json"' in env_file
    assert "SLACK_APP_TOKEN" not in env_file and "WORKER_TOKEN" not in env_file


def test_dry_run_shows_every_command_and_which_secrets_each_function_gets_without_a_value(checkout):
    done, calls = deploy(checkout, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert [c["argv"] for c in calls] == []  # nothing is called
    shown = done.stdout + done.stderr
    assert not [s for s in every_secret() if s in shown], shown
    assert "+ gcloud secrets create threadwise-openai-api-key" in shown
    assert "[OPENAI_API_KEY from .env.yaml, not shown]" in shown
    assert "Secrets slack_bot gets: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, ACCESS_TOKEN" in shown
    assert ("Secrets slack_worker gets: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, OPENAI_API_KEY, SLACK_USER_TOKEN, "
            "NOTION_TOKEN, GITHUB_TOKEN, GOOGLE_DRIVE_CREDENTIALS") in shown
    bot_line = next(line for line in shown.splitlines() if line.startswith("+ gcloud functions deploy slack_bot"))
    assert "--set-secrets SLACK_BOT_TOKEN=threadwise-slack-bot-token:latest," in bot_line


def test_deploy_refuses_without_the_signing_secret(checkout):
    root = checkout[0]
    env_yaml = root / ".env.yaml"
    env_yaml.write_text(env_yaml.read_text().replace('SLACK_SIGNING_SECRET: "signing-deploytest-91c2"',
                                                     'SLACK_SIGNING_SECRET: ""'))
    done, calls = deploy(checkout, "--dry-run")
    assert done.returncode != 0
    assert "Refusing to deploy: set SLACK_SIGNING_SECRET" in done.stderr
    assert "Traceback" not in done.stderr
