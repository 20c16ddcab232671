"""The Azure deployment (infra/, azure.yaml, docs/deploy-azure.md) checked offline: nothing here reaches Azure.

The Bicep is read with a small scanner (infra/ keeps one style: one `var` or property per line, flat env maps), so
these checks run on any machine: every module gets the parameters it declares; every WAF_* variable the apps get
is a real setting, with values the settings object accepts; each app and the ingest job get what they need;
secrets reach the apps only as Key Vault references; role GUIDs are the built-in roles their comments name;
infra/main.parameters.json, the outputs, azure.yaml and the deploy hook agree with one another; the hook itself runs
against a local stand-in for Azure Resource Manager. When pycep-parser is installed the Bicep files are also parsed
by a full Bicep grammar, and when a Bicep CLI is on PATH infra/main.bicep is compiled (both skip otherwise).
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
HOOK = INFRA / "hooks" / "postdeploy.py"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Built-in Azure roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles); a mistyped GUID would
# grant nothing, or something else.
BUILT_IN_ROLES = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    "Search Index Data Reader": "1407120a-92aa-4202-b7e9-c0e197c71c8f",
    "Search Index Data Contributor": "8ebe5a00-799e-43f5-93ac-243d3dce84a7",
    "Search Service Contributor": "7ca78c08-252a-4471-8644-bb5ff32d4ba0",
}

# Names that hold a secret, whatever service they belong to.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|CONNECTION_STRING|DATABASE_URL|_KEY$")
NOT_SECRETS = {"STREAMLIT_SECRETS_FILES"}  # where the mounted secrets file is, not a secret
ENV_KEY = re.compile(r"(?<![\w.'-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\s*:(?!:)")


# -- a scanner for the Bicep style of infra/ ---------------------------------------------------------------------


def strip_comments(text: str) -> str:
    """Drop // and /* */ comments outside single-quoted strings (Bicep's only string quote)."""
    out, i, in_string = [], 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == "'":
                in_string = False
        elif c == "'":
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def code(text: str, start: int = 0):
    """(index, character) of `text` from `start`, skipping single-quoted strings (and so '${...}' interpolations)."""
    i, in_string = start, False
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == "'":
                in_string = False
        elif c == "'":
            in_string = True
        else:
            yield i, c
        i += 1


def expression_end(text: str, start: int) -> int:
    """Index where the expression starting at `start` ends: the first newline outside brackets, or the bracket
    that closes an enclosing one."""
    depth = 0
    for i, c in code(text, start):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return i
        elif c == "\n" and depth == 0:
            return i
    return len(text)


def closing(text: str, opening: int) -> int:
    """Index of the bracket that closes the one at `opening`."""
    depth = 0
    for i, c in code(text, opening):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced bracket at {opening}: {text[opening:opening + 60]!r}")


def source(path: Path) -> str:
    return strip_comments(path.read_text(encoding="utf-8"))


def variables(text: str) -> dict[str, str]:
    found = {}
    for match in re.finditer(r"^var (\w+) = ", text, re.M):
        found[match.group(1)] = text[match.end():expression_end(text, match.end())].strip()
    return found


def object_entries(text: str) -> dict[str, str]:
    """The top-level `key: value` entries of the first object literal in `text` (e.g. a ternary's first branch)."""
    opening = text.index("{")
    body = text[opening + 1:closing(text, opening)]
    entries, i = {}, 0
    entry = re.compile(r"\s*('[^']*'|\w+)\s*:\s*")
    while i < len(body):
        match = entry.match(body, i)
        if not match:
            newline = body.find("\n", i)
            i = len(body) if newline < 0 else newline + 1
            continue
        end = expression_end(body, match.end())
        entries[match.group(1).strip("'")] = body[match.end():end].strip()
        i = end + 1
    return entries


def modules(text: str) -> dict[str, dict]:
    """module symbol -> {path, params: {name: expression}}."""
    found = {}
    for match in re.finditer(r"^module (\w+) '([^']+)' = (?:if \(.*?\) )?\{", text, re.M):
        block = text[match.end() - 1:closing(text, match.end() - 1) + 1]
        params = block[block.index("params:") + len("params:"):]
        found[match.group(1)] = {"path": match.group(2), "params": object_entries(params)}
    return found


def declared_params(text: str) -> dict[str, bool]:
    """param name -> whether it has a default."""
    return {m.group(1): m.group(2) is not None for m in re.finditer(r"^param (\w+) [\w?]+( = .+)?$", text, re.M)}


def top_level(expression: str) -> tuple[list[str], str]:
    """The object literals of an expression that are not nested in another, and the rest of the expression outside
    them and outside strings."""
    objects, rest, depth, start = [], [], 0, 0
    for i, c in code(expression):
        if c == "{":
            start = i if depth == 0 else start
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                objects.append(expression[start:i + 1])
        elif depth == 0:
            rest.append(c)
    return objects, "".join(rest)


def expression_keys(expression: str, variables_: dict[str, str], seen: frozenset = frozenset()) -> dict[str, str]:
    """Keys (and value expressions) of the object an expression builds: its own object literals (both branches of
    a ternary) and, followed through union() and ternaries, the variables it combines."""
    objects, rest = top_level(expression)
    keys = {}
    for literal in objects:
        keys.update(object_entries(literal))
    for name in re.findall(r"\b([a-z]\w*)\b", rest):
        if name in variables_ and name not in seen:
            keys.update(expression_keys(variables_[name], variables_, seen | {name}))
    return keys


MAIN_TEXT = source(MAIN)
MAIN_VARS = variables(MAIN_TEXT)
MAIN_MODULES = modules(MAIN_TEXT)


def module_env(symbol: str, param: str = "env") -> dict[str, str]:
    expression = MAIN_MODULES[symbol]["params"].get(param, "")
    return expression_keys(expression, MAIN_VARS)


def settings_field(env_name: str) -> str:
    return env_name.removeprefix("WAF_").lower()


# -- modules and parameters ------------------------------------------------------------------------------------


def test_the_scanner_sees_the_modules_and_maps_of_main_bicep():
    assert {"api", "ui", "ingestJob", "keyVault", "postgres", "searchAccess"} <= set(MAIN_MODULES)
    assert {"llmEnv", "searchEnv", "appSecretEnv"} <= set(MAIN_VARS)
    assert module_env("api")["WAF_LLM_BACKEND"] == "'azure-openai'"


def test_every_module_exists_and_gets_exactly_the_parameters_it_declares():
    problems = []
    for bicep in BICEP_FILES:
        for symbol, module in modules(source(bicep)).items():
            target = (bicep.parent / module["path"]).resolve()
            if not target.is_file():
                problems.append(f"{bicep.name}: module {symbol} -> missing {module['path']}")
                continue
            declared = declared_params(source(target))
            passed = set(module["params"])
            problems += [f"{symbol}: {p} is not a param of {target.name}" for p in sorted(passed - set(declared))]
            problems += [f"{symbol}: required param {p} of {target.name} is not passed"
                         for p, has_default in sorted(declared.items()) if not has_default and p not in passed]
    assert not problems, "\n".join(problems)


def test_parameters_file_matches_main_bicep():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = declared_params(MAIN_TEXT)
    assert not set(parameters) - set(declared), "parameters that main.bicep does not declare"
    # azd prompts for a parameter without a value or default, unless its metadata tells azd to generate it.
    generated = set(re.findall(r"type: 'generate'[\s\S]*?\n\}\)\nparam (\w+)", MAIN_TEXT))
    unset = [p for p, has_default in declared.items() if not has_default and p not in parameters and p not in generated]
    assert not unset, f"azd would prompt for {unset}"
    assert {"postgresAdminPassword", "uiCookieSecret"} <= generated
    for name, entry in parameters.items():
        variable = re.fullmatch(r"\$\{(\w+)(=[^}]*)?\}", entry["value"])
        assert variable, f"{name}: not an azd environment variable: {entry['value']}"
        # The apps read WAF_* from their environment; azd's own variables must never look like settings.
        assert not variable.group(1).startswith("WAF_"), name


# -- settings ----------------------------------------------------------------------------------------------------


def test_every_waf_variable_set_in_the_bicep_files_is_a_setting():
    names = {key for bicep in BICEP_FILES for key in ENV_KEY.findall(source(bicep))}
    waf = {n for n in names if n.startswith("WAF_")}
    assert len(waf) >= 8, f"the scanner found too few WAF_* variables: {sorted(waf)}"
    unknown = sorted(n for n in waf if settings_field(n) not in Settings.model_fields)
    assert not unknown, f"not fields of core.settings.Settings: {unknown}"


@pytest.mark.parametrize("symbol", ["api", "ui"])
def test_each_app_gets_the_settings_it_needs(symbol):
    env = module_env(symbol)
    secret_env = module_env(symbol, "secretEnv")
    needed = {"WAF_LLM_BACKEND", "WAF_AZURE_OPENAI_ENDPOINT", "WAF_AZURE_OPENAI_DEPLOYMENT", "WAF_INDEX_BACKEND",
              "WAF_AZURE_SEARCH_ENDPOINT", "WAF_AZURE_SEARCH_INDEX", "AZURE_CLIENT_ID", "OTEL_SERVICE_NAME"}
    assert not needed - set(env), f"{symbol} lacks {sorted(needed - set(env))}"
    assert {"WAF_DATABASE_URL", "APPLICATIONINSIGHTS_CONNECTION_STRING"} <= set(secret_env)
    assert env["WAF_LLM_BACKEND"] == "'azure-openai'" and env["WAF_INDEX_BACKEND"] == "'azure-search'"
    # Keyless: the managed identity signs in; an API key would be a secret in the configuration.
    assert not {"WAF_AZURE_OPENAI_API_KEY", "WAF_AZURE_SEARCH_API_KEY"} & (set(env) | set(secret_env))
    # The identity whose client ID DefaultAzureCredential gets is the one the app runs as.
    assert "appIdentity" in env["AZURE_CLIENT_ID"] and "appIdentity" in MAIN_MODULES[symbol]["params"]["identityId"]


def test_the_ingest_job_gets_the_index_settings_and_its_own_identity():
    env = module_env("ingestJob")
    assert {"WAF_INDEX_BACKEND", "WAF_AZURE_SEARCH_ENDPOINT", "WAF_AZURE_SEARCH_INDEX", "AZURE_CLIENT_ID"} <= set(env)
    assert "ingestIdentity" in env["AZURE_CLIENT_ID"]
    assert "ingestIdentity" in MAIN_MODULES["ingestJob"]["params"]["identityId"]
    assert re.search(r"command: \[\s*'waf-assistant'\s*'ingest'\s*\]", source(INFRA / "modules" / "ingest-job.bicep"))


def test_literal_values_and_list_encoding_are_accepted_by_the_settings_object(monkeypatch):
    env = {**module_env("api"), **module_env("ui"), **module_env("ingestJob")}
    literals = {k: v.strip("'") for k, v in env.items() if k.startswith("WAF_") and re.fullmatch(r"'[^'$]*'", v)}
    assert {"WAF_LLM_BACKEND", "WAF_INDEX_BACKEND"} <= set(literals)
    # string() of a Bicep array is JSON, which is how the settings object reads a list from the environment.
    literals["WAF_AUTH_REQUIRED_ROLES"] = '["Waf.User","Waf.Admin"]'
    literals["WAF_AUTH_ALLOWED_GROUPS"] = "[]"
    assert "string(requiredRoles)" in MAIN_VARS["signInEnv"] and "string(allowedGroups)" in MAIN_VARS["signInEnv"]
    for name, value in literals.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.llm_backend == "azure-openai" and settings.index_backend == "azure-search"
    assert settings.auth_required_roles == ["Waf.User", "Waf.Admin"] and settings.auth_allowed_groups == []


# -- secrets ------------------------------------------------------------------------------------------------------


def test_secrets_reach_the_apps_only_as_key_vault_references():
    # A name that holds a secret appears only in *SecretEnv maps (env var -> secret name), nowhere as a value.
    for bicep in BICEP_FILES:
        text = source(bicep)
        for name, expression in variables(text).items():
            if name.endswith("SecretEnv"):
                continue
            plain = [k for k in ENV_KEY.findall(expression) if SECRET_NAME.search(k) and k not in NOT_SECRETS]
            assert not plain, f"{bicep.name}: {name} sets {plain} as plain values"
        for symbol, module in modules(text).items():
            plain = [k for k in ENV_KEY.findall(module["params"].get("env", "")) if SECRET_NAME.search(k)
                     and k not in NOT_SECRETS]
            assert not plain, f"{bicep.name}: module {symbol} sets {plain} as plain values"
    app = source(INFRA / "modules" / "container-app.bicep")
    app_vars = variables(app)
    # Every container app secret is a Key Vault reference read with the identity; none carries a value.
    assert "keyVaultUrl: item.value" in app_vars["secrets"] and "identity: identityId" in app_vars["secrets"]
    assert "value:" not in app_vars["secrets"]
    assert "secretRef: item.value" in app_vars["secretRefEnv"]
    assert "secretRef" not in source(INFRA / "modules" / "ingest-job.bicep"), "the job needs no secret"


@pytest.mark.parametrize("symbol", ["api", "ui"])
def test_every_secret_an_app_reads_is_a_key_vault_secret_that_provisioning_creates(symbol):
    params = MAIN_MODULES[symbol]["params"]
    vault_refs = expression_keys(params["keyVaultSecrets"], MAIN_VARS)
    wanted = set(module_env(symbol, "secretEnv").values()) | set(
        expression_keys(params.get("secretFiles", "{}"), MAIN_VARS).values())
    wanted = {w.strip("'") for w in wanted}
    assert wanted <= set(vault_refs), f"{symbol} reads secrets it has no reference for: {wanted - set(vault_refs)}"
    created = set(expression_keys(MAIN_MODULES["keyVault"]["params"]["secrets"], MAIN_VARS))
    for name, uri in vault_refs.items():
        referenced = re.search(r"secrets/([\w-]+)'$", uri)
        assert referenced and referenced.group(1) == name, f"{name} points at {uri}"
        assert name in created, f"{symbol} references Key Vault secret {name}, which is never stored"


def test_database_url_is_what_the_image_can_open():
    url = MAIN_VARS["databaseUrl"]
    assert url.startswith("'postgresql+psycopg://") and "uriComponent(postgresAdminPassword)" in url
    assert url.endswith("?sslmode=require'")
    from sqlalchemy.engine import make_url

    sample = re.sub(r"\$\{[^}]*\}", "x", url.strip("'"))
    assert make_url(sample).get_dialect().driver == "psycopg"  # the postgres extra installs psycopg 3
    assert "postgres" in azure_yaml_extras()


def test_the_ui_sign_in_file_passes_streamlits_own_checks(tmp_path, monkeypatch):
    lines = re.findall(r"^\s*'(.*)'\s*$", MAIN_VARS["streamlitSecretLines"], re.M)
    rendered = "\n".join(re.sub(r"\$\{[^}]*\}", "x-value-0123456789abcdef", line) for line in lines)
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(rendered)
    assert set(tomllib.loads(rendered)["auth"]) == {"redirect_uri", "cookie_secret", "client_id", "client_secret",
                                                   "server_metadata_url"}
    # The UI's file is found through Streamlit's secrets.files option, which STREAMLIT_SECRETS_FILES sets.
    from streamlit import auth_util, config
    from streamlit.runtime.secrets import Secrets

    option = config._config_options_template["secrets.files"]
    assert option.env_var in expression_keys(MAIN_VARS["uiSignInEnv"], MAIN_VARS)
    mounted = expression_keys(MAIN_VARS["uiSignInEnv"], MAIN_VARS)[option.env_var].strip("'")
    ui = MAIN_MODULES["ui"]["params"]
    assert mounted == f"{ui['secretFilesPath'].strip(chr(39))}/secrets.toml"
    assert "'secrets.toml'" in ui["secretFiles"]
    previous = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(secrets_file)])
    try:
        monkeypatch.setattr(Secrets, "_maybe_install_file_watchers", lambda self: None)  # no poller on a temp file
        monkeypatch.setattr(auth_util, "secrets_singleton", Secrets())
        auth_util.validate_auth_credentials("default")  # raises StreamlitAuthError on a missing key
    finally:
        config.set_option("secrets.files", previous)


# -- identities and roles -------------------------------------------------------------------------------------------


def test_role_assignments_use_the_built_in_roles_their_comments_name():
    seen = set()
    for bicep in BICEP_FILES:
        for guid, role in re.findall(r"'([0-9a-f-]{36})' // (.+)$", bicep.read_text(), re.M):
            assert BUILT_IN_ROLES.get(role.strip()) == guid, f"{bicep.name}: {guid} is not {role}"
            seen.add(role.strip())
    assert seen == set(BUILT_IN_ROLES)


def test_only_the_ingest_job_and_the_deployer_may_write_the_index():
    params = MAIN_MODULES["searchAccess"]["params"]
    assert params["readers"].split() == ["[", "appPrincipal", "]"]
    assert "ingestPrincipal" in params["writers"] and "appPrincipal" not in params["writers"]
    assert "ingestPrincipal" not in MAIN_MODULES["openAiAccess"]["params"]["principals"]
    # Key Vault is read by the apps' identity only; the job reads no secret.
    assert "ingestIdentity" not in MAIN_MODULES["keyVault"]["params"]["readerPrincipalIds"]


# -- the apps against the code they run ---------------------------------------------------------------------------


def test_ports_probes_and_the_ui_command_match_the_app():
    server = (ROOT / "app" / "api" / "server.py").read_text()
    api = MAIN_MODULES["api"]["params"]
    assert api["targetPort"] == "8000"
    for path in ("/healthz", "/readyz"):
        assert f'@app.get("{path}")' in server
        assert f"path: '{path}'" in MAIN_VARS["apiProbes"]
    assert set(re.findall(r"port: (\d+)", MAIN_VARS["apiProbes"])) == {"8000"}
    ui = MAIN_MODULES["ui"]["params"]
    command = re.findall(r"'([^']*)'", ui["command"])
    assert command[:3] == ["streamlit", "run", "app/ui/streamlit_app.py"] and (ROOT / command[2]).is_file()
    assert command[command.index("--server.port") + 1] == ui["targetPort"] == "8501"
    assert set(re.findall(r"port: (\d+)", MAIN_VARS["uiProbes"])) == {"8501"}
    assert ui["stickySessions"] == "true"


# -- azure.yaml, outputs and the deploy hook ----------------------------------------------------------------------


def azure_yaml() -> dict:
    return yaml.safe_load((ROOT / "azure.yaml").read_text())


def azure_yaml_extras() -> set[str]:
    extras = set()
    for service in azure_yaml()["services"].values():
        for argument in service.get("docker", {}).get("buildArgs", []):
            if argument.startswith("EXTRAS="):
                extras |= set(argument.removeprefix("EXTRAS=").split(","))
    return extras


# Keys azd accepts (schemas/v1.0/azure.yaml.json of Azure/azure-dev): a misspelt one is ignored or rejected.
DOCKER_KEYS = {"path", "context", "platform", "registry", "image", "tag", "buildArgs", "network", "remoteBuild"}
HOOK_KEYS = {"shell", "kind", "dir", "run", "continueOnError", "interactive", "windows", "posix", "secrets", "config"}
PROJECT_HOOKS = {f"{when}{what}" for when in ("pre", "post") for what in (
    "provision", "infracreate", "infradelete", "down", "up", "package", "publish", "deploy", "restore")}


def test_azure_yaml_services_build_the_dockerfile_and_exist_in_the_bicep():
    config = azure_yaml()
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", config["name"])
    assert set(config["services"]) == {"api", "ui"}
    for name, service in config["services"].items():
        assert service["host"] == "containerapp"
        project = ROOT / service["project"]
        assert project.is_dir()
        assert not set(service["docker"]) - DOCKER_KEYS
        assert (project / service["docker"]["path"]).is_file(), f"{name}: no {service['docker']['path']}"
        assert (project / service["docker"]["context"]).is_dir()
        # azd finds each service's container app by this tag.
        assert f"'azd-service-name': '{name}'" in MAIN_MODULES[name]["params"]["tags"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = azure_yaml_extras()
    assert extras <= set(pyproject["project"]["optional-dependencies"])
    # PostgreSQL driver, Entra ID sign-in and the Azure AI Search client, the Application Insights exporter.
    assert {"postgres", "azure", "azure-monitor"} <= extras
    assert "ARG EXTRAS" in (ROOT / "Dockerfile").read_text()


def test_azure_yaml_hooks_run_scripts_that_exist():
    hooks = azure_yaml()["hooks"]
    assert set(hooks) <= PROJECT_HOOKS
    for hook in hooks.values():
        for platform in ("posix", "windows"):
            assert not set(hook[platform]) - HOOK_KEYS
            assert hook[platform]["shell"] in {"sh", "pwsh"}
            script = hook[platform]["run"].split()[-1]
            assert (ROOT / script).is_file(), script


def test_outputs_give_azd_and_the_hook_what_they_read():
    outputs = set(re.findall(r"^output (\w+) ", MAIN_TEXT, re.M))
    assert {"AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_CONTAINER_REGISTRY_ENDPOINT",
            "API_URL", "UI_URL"} <= outputs
    read = set(re.findall(r'env\("(\w+)"', HOOK.read_text()))
    from_azd = {"AZURE_SUBSCRIPTION_ID"}  # azd's own; SERVICE_API_IMAGE_NAME is read with a fallback
    assert read - from_azd <= outputs, f"the hook reads {sorted(read - from_azd - outputs)}, which are no outputs"


def test_dockerignore_keeps_azd_state_out_of_the_image():
    # azd keeps generated parameters (the PostgreSQL password) in .azure/<environment>/; the image is built from
    # the project root, so the folder must not be sent to the build.
    patterns = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert ".azure" in patterns, "add .azure to .dockerignore"


# -- the deploy hook against a local stand-in for Azure Resource Manager ---------------------------------------


class FakeArm:
    """Answers the calls infra/hooks/postdeploy.py makes; records them."""

    def __init__(self, ready: bool, outcome: str = "Succeeded"):
        self.ready, self.outcome, self.calls, self.polls = ready, outcome, [], 0
        arm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict | None = None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                arm.calls.append(("GET", self.path, None))
                path = self.path.split("?")[0]
                if path == "/api/readyz":
                    return self._send(200 if arm.ready else 503)
                if self.headers.get("Authorization") != "Bearer fake-token":
                    return self._send(401)
                if path.endswith("/jobs/caj-ingest"):
                    return self._send(200, {"properties": {"template": {"containers": [{
                        "name": "ingest", "image": "placeholder", "command": ["waf-assistant", "ingest"],
                        "env": [{"name": "WAF_INDEX_BACKEND", "value": "azure-search"}],
                        "resources": {"cpu": 2.0, "memory": "4Gi"}, "probes": []}]}}})
                if "/executions/" in path:
                    arm.polls += 1
                    return self._send(200, {"properties": {"status": "Running" if arm.polls < 2 else arm.outcome}})
                if "/containerApps/" in path:
                    return self._send(200, {"properties": {"latestRevisionName": path.rsplit("/", 1)[-1] + "--r1"}})
                return self._send(404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                arm.calls.append(("POST", self.path, body))
                if self.path.split("?")[0].endswith("/start"):
                    return self._send(202, {"name": "caj-ingest-exec1", "id": "/x/executions/caj-ingest-exec1"})
                return self._send(200)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self) -> list[str]:
        return [path.split("?")[0] for method, path, _ in self.calls if method == "POST"]


@pytest.fixture
def run_hook(tmp_path, monkeypatch):
    fake_azd = tmp_path / "bin" / "azd"
    fake_azd.parent.mkdir()
    fake_azd.write_text("#!/bin/sh\necho '{\"token\": \"fake-token\", \"expiresOn\": \"2099-01-01T00:00:00Z\"}'\n")
    fake_azd.chmod(0o755)
    spec = importlib.util.spec_from_file_location("postdeploy_hook", HOOK)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    servers = []

    def run(arm: FakeArm, **extra) -> int:
        servers.append(arm)
        monkeypatch.setenv("PATH", f"{fake_azd.parent}:/usr/bin:/bin")
        for name, value in {"AZURE_ARM_ENDPOINT": arm.url, "AZURE_SUBSCRIPTION_ID": "sub", "AZURE_RESOURCE_GROUP": "rg",
                            "AZURE_INGEST_JOB_NAME": "caj-ingest", "AZURE_API_APP_NAME": "ca-api",
                            "AZURE_UI_APP_NAME": "ca-ui", "API_URL": f"{arm.url}/api", "INGEST_POLL_SECONDS": "0.01",
                            "SERVICE_API_IMAGE_NAME": "cr1.azurecr.io/waf/api:azd-deploy-1", **extra}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AZURE_TENANT_ID", raising=False)
        return hook.main()

    yield run
    for arm in servers:
        arm.server.shutdown()


def test_hook_ingests_with_the_new_image_and_restarts_apps_that_started_without_an_index(run_hook):
    arm = FakeArm(ready=False)
    assert run_hook(arm) == 0
    start = next(body for method, path, body in arm.calls if method == "POST" and "/start" in path)
    assert start["containers"][0]["image"] == "cr1.azurecr.io/waf/api:azd-deploy-1"
    assert start["containers"][0]["command"] == ["waf-assistant", "ingest"]
    assert "probes" not in start["containers"][0]  # not a field of a job execution's container
    assert all("api-version=2024-03-01" in path for _, path, _ in arm.calls if not path.startswith("/api/"))
    assert arm.posts()[1:] == [
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/containerApps/ca-api/revisions/ca-api--r1/restart",
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/containerApps/ca-ui/revisions/ca-ui--r1/restart",
    ]


def test_hook_leaves_a_ready_api_alone(run_hook):
    arm = FakeArm(ready=True)
    assert run_hook(arm) == 0
    assert arm.posts() == ["/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/jobs/caj-ingest/start"]


def test_hook_fails_the_deploy_when_ingest_fails(run_hook, capsys):
    arm = FakeArm(ready=False, outcome="Failed")
    assert run_hook(arm) == 1
    assert "ingest run caj-ingest-exec1 ended Failed" in capsys.readouterr().err
    assert len(arm.posts()) == 1  # no restart


def test_hook_can_be_switched_off(run_hook):
    arm = FakeArm(ready=False)
    assert run_hook(arm, INGEST_ON_DEPLOY="false") == 0
    assert arm.calls == []


# -- full Bicep grammar and the compiler, where available --------------------------------------------------------


@pytest.mark.parametrize("bicep", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_bicep_files_parse(bicep):
    pycep = pytest.importorskip("pycep", reason="pycep-parser (a Bicep grammar) is not installed")
    pycep.BicepParser().parse(file_path=bicep)


def bicep_cli() -> list[str] | None:
    if shutil.which("bicep"):
        return [shutil.which("bicep")]
    installed_by_az = Path.home() / ".azure" / "bin" / "bicep"
    return [str(installed_by_az)] if installed_by_az.is_file() else None


def test_main_bicep_compiles():
    cli = bicep_cli()
    if cli is None:
        pytest.skip("no Bicep CLI on PATH (it ships from GitHub / downloads.bicep.azure.com or NuGet, none of which "
                    "this machine reaches; no PyPI, npm or Debian package carries the binary)")
    built = subprocess.run([*cli, "build", str(MAIN), "--stdout"], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["$schema"].endswith("subscriptionDeploymentTemplate.json#")
    linted = subprocess.run([*cli, "lint", str(MAIN)], capture_output=True, text=True, timeout=300)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_hook_runs_on_the_python_azd_users_have():
    # Standard library only, so `azd up` needs no project install on the deploying machine.
    imported = set(re.findall(r"^(?:import|from) (\w+)", HOOK.read_text(), re.M))
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
