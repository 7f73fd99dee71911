"""Every environment variable the code reads is documented for operators, and the manifest asks for the scopes used."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "".join(path.read_text() for path in sorted((ROOT / "threadwise" / "config").glob("*.py")))
READ_BY_CONFIG = sorted(set(re.findall(r'env, "([A-Z_]+)"', CONFIG)))


def test_config_reads_the_knowledge_settings():
    for name in ("SLACK_USER_TOKEN", "NOTION_TOKEN", "NOTION_API_URL", "GITHUB_TOKEN", "GITHUB_ORG",
                 "GITHUB_API_URL", "GOOGLE_DRIVE_CREDENTIALS", "GOOGLE_API_URL"):
        assert name in READ_BY_CONFIG


def test_every_setting_is_in_the_env_example_and_the_readme():
    example = (ROOT / ".env.yaml.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing_example = [n for n in READ_BY_CONFIG if not re.search(rf"^{n}:", example, re.MULTILINE)]
    missing_readme = [n for n in READ_BY_CONFIG if f"| `{n}` |" not in readme]
    assert missing_example == [] and missing_readme == []


def test_the_manifest_asks_for_the_scopes_the_code_uses():
    manifest = (ROOT / "manifest.yaml").read_text()
    bot = re.search(r"    bot:\n((?:      - .+\n)+)", manifest).group(1)
    user = re.search(r"    user:\n((?:      - .+\n)+)", manifest).group(1)
    bot_scopes = set(re.findall(r"- (\S+)", bot))
    assert {"app_mentions:read", "chat:write", "files:read", "channels:history", "groups:history", "im:history",
            "channels:read", "groups:read", "users:read.email"} <= bot_scopes
    assert {"search:read", "channels:read", "groups:read"} <= set(re.findall(r"- (\S+)", user))
