"""Splits .env.yaml for ./scripts/deploy: plain settings go to the functions' environment, secrets to
Secret Manager, and each function is given only the secrets its entry point reads.

    python3 scripts/deploy_settings.py plan .env.yaml DIR   # writes DIR/plain.yaml, DIR/secrets.tsv,
                                                           # DIR/<function>.secrets (--set-secrets values)
    python3 scripts/deploy_settings.py value .env.yaml KEY  # the secret's value on stdout, for
                                                           # `gcloud secrets versions add … --data-file=-`

Plain environment variables are readable by every project viewer (``gcloud functions describe``);
a secret is readable only by the service accounts granted ``roles/secretmanager.secretAccessor`` on it.
Nothing here prints a secret value except ``value``, whose output deploy pipes into gcloud's stdin.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from env_yaml import parse  # noqa: E402  (a sibling script, not a package)

# Every setting that is a credential (threadwise.config.groups.Settings.secrets(), plus the Drive key file).
SECRET_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ACCESS_TOKEN", "OPENAI_API_KEY", "SLACK_USER_TOKEN",
                   "NOTION_TOKEN", "GITHUB_TOKEN", "GOOGLE_DRIVE_CREDENTIALS")
# What each entry point reads (main.py). slack_bot, public, answers Slack within 3 s: it verifies the request
# (signing secret, ACCESS_TOKEN) and does the in-request work with the bot token (Stop, Delete, App Home, the
# hand-off to Pub/Sub); it never calls the model or a knowledge source. slack_worker answers: the model, the
# knowledge tools, the bot token. It also gets the signing secret only because main.py builds the HTTP edge's
# settings for both entry points and refuses to start without it; it verifies nothing with it.
FUNCTION_SECRETS = {
    "slack_bot": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ACCESS_TOKEN"),
    "slack_worker": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY", "SLACK_USER_TOKEN", "NOTION_TOKEN",
                     "GITHUB_TOKEN", "GOOGLE_DRIVE_CREDENTIALS"),
}
# Settings the deployment decides itself (deploy writes them), or that a deployed function must not have:
# PORT is Cloud Functions' own, SLACK_APP_TOKEN is Socket Mode's, WORKER_TOKEN is WORKER_AUTH=token's (deploy
# uses oidc), and the emulators' hosts point a local run at them (a deployed function talks to Google).
DEPLOYMENT_DECIDES = ("DISPATCH", "STORE", "PUBSUB_TOPIC", "GOOGLE_CLOUD_PROJECT", "WORKER_AUTH", "WORKER_AUDIENCE",
                      "WORKER_SERVICE_ACCOUNT", "PORT", "SLACK_APP_TOKEN", "WORKER_TOKEN", "PUBSUB_EMULATOR_HOST",
                      "FIRESTORE_EMULATOR_HOST")
# The Drive service-account key is a file: mounted from its secret, and the setting names where.
DRIVE_KEY_MOUNT = "/etc/threadwise-drive/credentials.json"


@dataclass(frozen=True)
class Secret:
    setting: str
    name: str  # in Secret Manager

    @property
    def is_file(self) -> bool:
        return self.setting == "GOOGLE_DRIVE_CREDENTIALS"

    def reference(self) -> str:
        """This secret in --set-secrets: an environment variable, or the Drive key as a mounted file."""
        target = DRIVE_KEY_MOUNT if self.is_file else self.setting
        return f"{target}={self.name}:latest"


def secret_name(setting: str) -> str:
    return "threadwise-" + setting.lower().replace("_", "-")


def secrets_set(settings: dict[str, str]) -> list[Secret]:
    """The secrets .env.yaml sets (an empty value is unset; Drive's "default" is the function's own identity)."""
    found = []
    for setting in SECRET_SETTINGS:
        value = settings.get(setting, "")
        if value and not (setting == "GOOGLE_DRIVE_CREDENTIALS" and value.strip() == "default"):
            found.append(Secret(setting, secret_name(setting)))
    return found


def plain_settings(settings: dict[str, str], secrets: list[Secret]) -> dict[str, str]:
    # Every credential setting stays out, set or empty; Drive's "default" (no key, the function's own identity) stays in.
    left_out = (set(SECRET_SETTINGS) | set(DEPLOYMENT_DECIDES)) - {"GOOGLE_DRIVE_CREDENTIALS"}
    left_out |= {secret.setting for secret in secrets}
    plain = {key: value for key, value in settings.items() if key not in left_out}
    if any(secret.is_file for secret in secrets):
        plain["GOOGLE_DRIVE_CREDENTIALS"] = DRIVE_KEY_MOUNT
    if settings.get("OPENAI_API_KEY") and not settings.get("PRACTICE_MODE"):
        # slack_bot never holds the key; said explicitly so that it does not call itself practice mode.
        plain["PRACTICE_MODE"] = "false"
    return plain


def plan(env_file: Path, out: Path) -> None:
    settings = parse(env_file.read_text(encoding="utf-8"))
    for required in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        if not settings.get(required):
            sys.exit(f"Refusing to deploy: set {required} in .env.yaml (slack_bot verifies every request with "
                     "Slack's signing secret; ACCESS_TOKEN alone proves nothing about the body).")
    secrets = secrets_set(settings)
    plain = plain_settings(settings, secrets)
    # JSON strings are YAML double-quoted scalars: any value survives.
    (out / "plain.yaml").write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in plain.items()),
                                    encoding="utf-8")
    (out / "secrets.tsv").write_text("".join(f"{s.setting}\t{s.name}\n" for s in secrets), encoding="utf-8")
    for function, wanted in FUNCTION_SECRETS.items():
        given = [s for s in secrets if s.setting in wanted]
        (out / f"{function}.secrets").write_text(",".join(s.reference() for s in given), encoding="utf-8")
        (out / f"{function}.names").write_text(", ".join(s.setting for s in given) or "none", encoding="utf-8")


def value(env_file: Path, setting: str) -> bytes:
    settings = parse(env_file.read_text(encoding="utf-8"))
    if setting not in SECRET_SETTINGS or not settings.get(setting):
        sys.exit(f"{setting} is not a secret set in {env_file}")
    if setting == "GOOGLE_DRIVE_CREDENTIALS":  # a key file's path: its contents are the secret
        return (env_file.resolve().parent / settings[setting]).read_bytes()
    return settings[setting].encode("utf-8")


if __name__ == "__main__":
    command, env, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if command == "plan":
        plan(env, Path(arg))
    elif command == "value":
        sys.stdout.buffer.write(value(env, arg))
    else:
        sys.exit(f"unknown command {command}")
