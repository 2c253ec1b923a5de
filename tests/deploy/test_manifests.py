"""The compose file, the image and the Kubernetes manifests agree with the code and each other.

Docker cannot run here, so the files are checked by the tools that can check them offline:
``docker compose config`` (or Debian's ``docker-compose``), ``promtool check config``, and
the Kubernetes OpenAPI schemas bundled in ``kubernetes-validate`` for the kustomization
(rendered here, without kubectl); a test whose tool is missing fails, naming ``make tools``.
The rest compares names with the code: topics, ports, ``SLAWATCH_*`` variables, the image's
command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from alerts.ack import ACK_SECRET_ENV
from slawatch.collector import GC_ENV
from slawatch.worker import EVENT_LOOP_ENV
from sources.topics import load_topics
from streams.alerting import ALERTS_ENV
from streams.settings import ENV_PREFIX, WORKER_URL_ENV, Settings, TopicNames

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
K8S_DIR = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
PRODUCTION_DOC = ROOT / "docs" / "production.md"
#: Resource files of the kustomization (the ServiceMonitor is a CRD: no bundled schema).
K8S_RESOURCES = (
    "service.yaml",
    "statefulset.yaml",
    "poddisruptionbudget.yaml",
    "networkpolicy.yaml",
)
#: Oldest Kubernetes release the manifests are checked against (the newest bundled one too).
K8S_MIN_VERSION = "1.30.0"
#: Samples per scrape of one worker (sample_limit / sampleLimit).
SAMPLE_LIMIT = 20000
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "REDIS_URL")
_DEFAULT_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")
_ENV_TOKEN = re.compile(r"\bSLAWATCH_[A-Z0-9_]*[A-Z0-9]\b")


# ---- what the code reads ------------------------------------------------------------------


def settings_env_vars() -> set[str]:
    """Every variable :meth:`Settings.from_env` reads."""
    names = {ENV_PREFIX + f.upper() for f in Settings.model_fields if f != "topic_names"}
    names |= {f"{ENV_PREFIX}TOPIC_{role.upper()}" for role in TopicNames.model_fields}
    return names


def code_env_vars() -> set[str]:
    """Every ``SLAWATCH_*`` variable slawatch reads: settings, alerts file, ack secret, loop,
    collector, and the worker URL the commands ask."""
    return settings_env_vars() | {
        ALERTS_ENV,
        ACK_SECRET_ENV,
        EVENT_LOOP_ENV,
        GC_ENV,
        WORKER_URL_ENV,
    }


def alerts_file_refs() -> set[str]:
    """``${VAR}`` names config/alerts.yaml references (also in its commented examples)."""
    text = (ROOT / "config" / "alerts.yaml").read_text(encoding="utf-8")
    return {m.group(1) for m in _DEFAULT_REF.finditer(text)}


def topic_names() -> set[str]:
    """slawatch's own topics and the source topics of config/topics.yaml."""
    own = set(TopicNames().model_dump().values())
    return own | set(load_topics(ROOT / "config" / "topics.yaml").names())


# ---- reading the files --------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def compose_workers(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository's Dockerfile."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def interpolate(value: object) -> str:
    """A compose value with ``${VAR:-default}`` replaced by its default (as with VAR unset)."""
    return _DEFAULT_REF.sub(lambda m: m.group(2) or "", str(value))


def k8s_docs(name: str) -> list[dict[str, Any]]:
    text = (K8S_DIR / name).read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def statefulset() -> dict[str, Any]:
    (doc,) = k8s_docs("statefulset.yaml")
    return doc


def worker_container(sts: Mapping[str, Any]) -> dict[str, Any]:
    (container,) = [
        c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "worker"
    ]
    return container


def k8s_env(container: Mapping[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instr, args in dockerfile_instructions():
        if instr == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def dockerfile_last(instr: str) -> str:
    return [args for i, args in dockerfile_instructions() if i == instr][-1]


def web_port() -> int:
    return Settings().web_port


def _tool(*cmd: str) -> bool:
    if shutil.which(cmd[0]) is None:
        return False
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


#: What compose requires from the environment (placeholders for the offline config check).
REQUIRED_COMPOSE_ENV = {
    "SLAWATCH_ACK_SECRET": "x" * 32,
    "SLAWATCH_ACK_BASE_URL": "https://slawatch.example.com",
    "REDIS_PASSWORD": "redis-password-placeholder",
    "GRAFANA_ADMIN_PASSWORD": "grafana-password-placeholder",
}


def _compose_config(extra: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``docker compose config`` on the file with ``extra`` set and nothing else of ours."""
    command = compose_command()
    assert command is not None, "neither `docker compose` nor `docker-compose`: run `make tools`"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMPOSE_", "DOCKER_")) and k not in REQUIRED_COMPOSE_ENV
    }
    return subprocess.run(
        [*command, "--project-directory", str(COMPOSE_DIR), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **extra},
        check=False,
    )


def compose_command() -> list[str] | None:
    """``docker compose`` when its plugin is installed, else Debian's ``docker-compose``."""
    if _tool("docker", "compose", "version"):
        return ["docker", "compose"]
    if _tool("docker-compose", "version"):
        return ["docker-compose"]
    return None


# ---- compose ------------------------------------------------------------------------------


class TestCompose:
    def test_compose_config_accepts_the_file(self) -> None:
        """`docker compose config` (client side, offline) accepts the file as valid."""
        done = _compose_config(REQUIRED_COMPOSE_ENV)
        assert 0 == done.returncode, done.stderr

    @pytest.mark.parametrize("missing", sorted(REQUIRED_COMPOSE_ENV))
    def test_secrets_are_required(self, missing: str) -> None:
        """Without a password or the ack secret compose refuses to start, naming it."""
        env = {k: v for k, v in REQUIRED_COMPOSE_ENV.items() if k != missing}
        done = _compose_config(env)
        assert (True, True) == (done.returncode != 0, f"set {missing}" in done.stderr)

    def test_ports_bind_to_loopback_by_default(self) -> None:
        """Every published port is on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise."""
        published = [
            interpolate(port)
            for svc in load_compose()["services"].values()
            for port in svc.get("ports", [])
        ]
        assert published
        assert [] == [p for p in published if not p.startswith("127.0.0.1:")]

    def test_prometheus_lifecycle_api_is_off(self) -> None:
        """Nobody who reaches Prometheus can stop or reload it over HTTP."""
        command = load_compose()["services"]["prometheus"]["command"]
        assert [] == [c for c in command if "lifecycle" in c]

    def test_two_workers_and_the_services_around_them(self) -> None:
        """Kafka, Redis, Prometheus, Alertmanager, Grafana and two workers are defined."""
        compose = load_compose()
        expected = {"kafka", "redis", "prometheus", "alertmanager", "grafana"}
        assert expected <= set(compose["services"])
        assert ["worker-1", "worker-2"] == sorted(compose_workers(compose))

    def test_kafka_runs_in_kraft_mode(self) -> None:
        """The broker is Apache Kafka without ZooKeeper: broker and controller roles."""
        kafka = load_compose()["services"]["kafka"]
        assert kafka["image"].startswith("apache/kafka:")
        assert "broker,controller" == kafka["environment"]["KAFKA_PROCESS_ROLES"]
        assert not any("ZOOKEEPER" in key for key in kafka["environment"])

    def test_worker_variables_are_read_by_the_code(self) -> None:
        """Every SLAWATCH_* variable given to a worker is one the worker reads."""
        known = code_env_vars()
        for name, svc in compose_workers(load_compose()).items():
            used = {k for k in svc["environment"] if k.startswith(ENV_PREFIX)}
            assert set() == used - known, name

    def test_worker_settings_are_valid(self) -> None:
        """The workers' environment passes the settings validation."""
        for svc in compose_workers(load_compose()).values():
            env = {k: interpolate(v) for k, v in svc["environment"].items()}
            settings = Settings.from_env(env)
            assert "rocksdb" == settings.store.split("://")[0]

    def test_broker_url_is_an_advertised_listener(self) -> None:
        """Workers and the topic job connect to a listener Kafka advertises."""
        compose = load_compose()
        advertised = compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        addresses = {urlsplit(item).netloc for item in advertised.split(",")}
        for svc in compose_workers(compose).values():
            bootstrap = Settings.from_env(
                {"SLAWATCH_BROKER": svc["environment"]["SLAWATCH_BROKER"]}
            )
            assert set(bootstrap.bootstrap.split(",")) <= addresses
        assert compose["services"]["topics"]["environment"]["BOOTSTRAP"] in addresses

    def test_host_listener_is_the_default_broker(self) -> None:
        """Kafka is published on the host where `slawatch` looks by default."""
        kafka = load_compose()["services"]["kafka"]
        default = Settings().bootstrap
        port = default.rsplit(":", 1)[1]
        assert f"127.0.0.1:{port}:{port}" in [interpolate(p) for p in kafka["ports"]]
        assert f"localhost:{port}" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]

    def test_worker_ports(self) -> None:
        """Each worker listens on the settings' web port and is published on its own host port."""
        published = []
        for svc in compose_workers(load_compose()).values():
            port = int(svc["environment"]["SLAWATCH_WEB_PORT"])
            assert web_port() == port
            (mapping,) = svc["ports"]
            _, host, container = interpolate(mapping).split(":")
            assert port == int(container)
            assert f":{port}/health" in " ".join(svc["healthcheck"]["test"])
            published.append(int(host))
        assert len(published) == len(set(published))

    def test_partitions_agree(self) -> None:
        """The topic job creates as many partitions as the workers expect."""
        compose = load_compose()
        wanted = {
            svc["environment"]["SLAWATCH_PARTITIONS"] for svc in compose_workers(compose).values()
        }
        assert {compose["services"]["topics"]["environment"]["PARTITIONS"]} == wanted

    def test_topic_script_creates_every_topic(self) -> None:
        """create-topics.sh creates exactly slawatch's topics and the configured source topics."""
        script = (COMPOSE_DIR / "create-topics.sh").read_text(encoding="utf-8")
        created = set(re.findall(r"^create ([A-Za-z0-9._-]+) ", script, re.M))
        assert topic_names() == created

    def test_secrets_are_references(self) -> None:
        """No secret is written into the compose file: only ${VAR} references."""
        for name, svc in load_compose()["services"].items():
            for key, value in (svc.get("environment") or {}).items():
                if any(word in key for word in SECRET_WORDS[:3]):
                    assert str(value).startswith("${"), f"{name}: {key}"

    def test_mounted_paths_exist(self) -> None:
        """Every bind mount points at a file or directory of this repository."""
        for name, svc in load_compose()["services"].items():
            for volume in svc.get("volumes", []):
                source = str(volume).split(":")[0]
                if source.startswith("."):
                    assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"

    def test_prometheus_scrapes_both_workers_as_job_slawatch(self) -> None:
        """Prometheus scrapes every worker under the job the generated rules expect."""
        from generators.rules import RuleOptions

        compose = load_compose()
        config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text(encoding="utf-8"))
        (job,) = [j for j in config["scrape_configs"] if j["job_name"] == RuleOptions().job]
        targets = {t for sc in job["static_configs"] for t in sc["targets"]}
        workers = compose_workers(compose)
        expected = {f"{n}:{s['environment']['SLAWATCH_WEB_PORT']}" for n, s in workers.items()}
        assert expected == targets
        assert "/metrics" == job.get("metrics_path", "/metrics")

    def test_scrapes_have_a_sample_limit(self) -> None:
        """Both Prometheus configs and the ServiceMonitor cap samples per scrape, alike."""
        limits = set()
        for path in (COMPOSE_DIR / "prometheus.yml", ROOT / "deploy/prometheus/prometheus.yml"):
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
            (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "slawatch"]
            limits.add(job.get("sample_limit"))
        (monitor,) = k8s_docs("servicemonitor.yaml")
        limits.add(monitor["spec"].get("sampleLimit"))
        assert {SAMPLE_LIMIT} == limits

    def test_prometheus_config_passes_promtool(self, tmp_path: Path) -> None:
        """promtool accepts the Prometheus config together with the generated rules."""
        assert shutil.which("promtool") is not None, "promtool is not installed: run `make tools`"
        shutil.copy(COMPOSE_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
        (tmp_path / "rules").symlink_to(ROOT / "deploy" / "prometheus" / "rules")
        done = subprocess.run(
            ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert 0 == done.returncode, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout and "rule" in done.stdout

    def test_rules_alertmanager_and_dashboards_are_mounted(self) -> None:
        """The generated rules, Alertmanager config and dashboards are what the services load."""
        services = load_compose()["services"]
        mounts = {
            name: {str(v).split(":")[0]: str(v).split(":")[1] for v in svc.get("volumes", [])}
            for name, svc in services.items()
        }
        assert "/etc/prometheus/rules" == mounts["prometheus"]["../prometheus/rules"]
        config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text(encoding="utf-8"))
        assert ["rules/*.yaml"] == config["rule_files"]
        am_target = mounts["alertmanager"]["../alertmanager/alertmanager.yml"]
        assert f"--config.file={am_target}" in services["alertmanager"]["command"]
        provider = yaml.safe_load(
            (COMPOSE_DIR / "grafana/provisioning/dashboards/slawatch.yaml").read_text()
        )["providers"][0]
        dashboards = mounts["grafana"]["../grafana/dashboards"]
        assert dashboards == provider["options"]["path"]
        home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        assert dashboards == str(Path(home).parent)
        assert (ROOT / "deploy/grafana/dashboards" / Path(home).name).is_file()

    def test_dashboards_are_valid_json(self) -> None:
        """Each provisioned dashboard parses and has a uid for stable links."""
        files = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
        assert files
        for path in files:
            assert json.loads(path.read_text(encoding="utf-8"))["uid"]


# ---- the image ----------------------------------------------------------------------------


class TestDockerfile:
    def test_base_image(self) -> None:
        """Both stages are built on one Python 3.11 slim image, pinned by its digest."""
        froms = {args.split()[0] for instr, args in dockerfile_instructions() if instr == "FROM"}
        assert 1 == len(froms)
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-bookworm)?@sha256:[0-9a-f]{64}", *froms)

    def test_installs_from_the_lock_file(self) -> None:
        """Dependencies come from requirements.lock; slawatch itself adds none (--no-deps)."""
        runs = [args for instr, args in dockerfile_instructions() if instr == "RUN"]
        installs = [r for r in runs if "pip install" in r]
        assert ["-r requirements.lock" in installs[0], "--no-deps" in installs[-1]] == [True, True]
        assert all("--no-deps" in r or "-r requirements.lock" in r for r in installs)

    def test_lock_pins_every_runtime_dependency(self) -> None:
        """Every dependency of slawatch[rocksdb] is pinned with ==, at the tested version."""
        import importlib.metadata as md
        import tomllib

        from packaging.requirements import Requirement

        def key(name: str) -> str:
            return re.sub(r"[-_.]+", "-", name).lower()

        lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        pins = dict(
            line.split("==", 1) for line in lines if line.strip() and not line.startswith("#")
        )
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        wanted = [*project["dependencies"], *project["optional-dependencies"]["rocksdb"]]
        assert [] == [r for r in wanted if key(Requirement(r).name) not in pins]
        for requirement in map(Requirement, wanted):
            assert requirement.specifier.contains(pins[key(requirement.name)]), requirement
        installed = {}
        for name in pins:
            try:
                installed[name] = md.version(name)
            except md.PackageNotFoundError:
                continue  # rocksdict: not in the development virtualenv
        assert {n: pins[n] for n in installed} == installed

    def test_entrypoint_is_the_worker_command(self) -> None:
        """The entrypoint runs `slawatch worker`, a console script and command that exist."""
        import tomllib

        import typer.main

        from slawatch.cli import app

        entry = json.loads(dockerfile_last("ENTRYPOINT"))
        assert ["slawatch", "worker"] == entry
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert "slawatch.cli:app" == scripts[entry[0]]
        assert entry[1] in typer.main.get_command(app).commands  # type: ignore[attr-defined]

    def test_every_package_is_copied(self) -> None:
        """Every package pyproject installs is copied into the build stage."""
        import tomllib

        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
        packages = {
            p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
        }
        copied = {
            args.split()[0]
            for instr, args in dockerfile_instructions()
            if instr == "COPY" and not args.startswith("--")
        }
        assert packages <= copied

    def test_the_package_config_link_is_copied(self) -> None:
        """slawatch/config links to config/, so the build stage copies config/ to follow it."""
        link = ROOT / "slawatch" / "config"
        assert link.is_symlink() and link.resolve() == (ROOT / "config").resolve()
        copied = [args.split() for instr, args in dockerfile_instructions() if instr == "COPY"]
        assert ["config", "./config"] in copied

    def test_environment_is_valid_settings(self) -> None:
        """The image's SLAWATCH_* defaults are read by the code and pass validation."""
        env = dockerfile_env()
        used = {k for k in env if k.startswith(ENV_PREFIX)}
        assert set() == used - code_env_vars()
        settings = Settings.from_env(env)
        assert ("0.0.0.0", web_port()) == (settings.web_host, settings.web_port)
        assert str(settings.datadir) in dockerfile_last("VOLUME")

    def test_exposed_port_is_the_web_port(self) -> None:
        """EXPOSE names the web port."""
        assert str(web_port()) == dockerfile_last("EXPOSE")

    def test_runs_as_the_user_kubernetes_expects(self) -> None:
        """The image's user is the one the StatefulSet's security context names."""
        security = statefulset()["spec"]["template"]["spec"]["securityContext"]
        assert str(security["runAsUser"]) == dockerfile_last("USER")

    def test_dockerignore_keeps_local_state_out(self) -> None:
        """The build context leaves out the virtualenv, git and local env files."""
        ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
        assert {".venv", ".git", ".env*"} <= set(ignored)


# ---- Kubernetes ---------------------------------------------------------------------------


def _validate(docs: list[dict[str, Any]], version: str) -> list[str]:
    import kubernetes_validate as kv

    errors = []
    for doc in docs:
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc}")
    return errors


def _versions() -> Iterator[str]:
    import kubernetes_validate as kv

    yield K8S_MIN_VERSION
    yield kv.latest_version()


def kustomize_build() -> list[dict[str, Any]]:
    """The manifests as the kustomization describes them, rendered here (no kubectl needed).

    Applies what ``kustomization.yaml`` uses: the resources, its labels (on selectors too),
    the ConfigMap generated from the config files (under the generator's name; kustomize adds
    a content hash to it and to every reference alike) and the image override.
    """
    kz = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    assert {"apiVersion", "kind", "labels", "resources", "configMapGenerator", "images"} == set(kz)
    docs = [
        doc
        for name in kz["resources"]
        for doc in yaml.safe_load_all((K8S_DIR / name).read_text(encoding="utf-8"))
        if doc
    ]
    for generator in kz["configMapGenerator"]:
        data = {}
        for entry in generator["files"]:
            key, path = entry.split("=", 1)
            data[key] = (K8S_DIR / path).read_text(encoding="utf-8")
        docs.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]},
             "data": data}
        )  # fmt: skip
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kz["images"]}
    for doc in docs:
        for rule in kz["labels"]:
            doc["metadata"].setdefault("labels", {}).update(rule["pairs"])
            if rule.get("includeSelectors"):
                _label_selectors(doc, rule["pairs"])
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name = container["image"].split(":")[0]
            container["image"] = images.get(name, container["image"])
    return docs


def _label_selectors(doc: dict[str, Any], pairs: dict[str, str]) -> None:
    """Add ``pairs`` to the selectors kustomize's ``includeSelectors`` reaches."""
    spec = doc.get("spec", {})
    if doc["kind"] == "Service":
        spec.setdefault("selector", {}).update(pairs)
    elif doc["kind"] in ("StatefulSet", "PodDisruptionBudget"):
        spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(pairs)
    elif doc["kind"] == "NetworkPolicy":
        spec.setdefault("podSelector", {}).setdefault("matchLabels", {}).update(pairs)
    template = spec.get("template")
    if template is not None:
        template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


class TestKubernetes:
    @pytest.mark.parametrize("name", K8S_RESOURCES)
    def test_resource_matches_the_schema(self, name: str) -> None:
        """Each manifest validates strictly against the Kubernetes OpenAPI schema."""
        for version in _versions():
            assert [] == _validate(k8s_docs(name), version)

    def test_kustomize_renders_valid_manifests(self) -> None:
        """The kustomization renders, and everything it renders validates against the schema."""
        docs = kustomize_build()
        assert {"ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy"} == {
            d["kind"] for d in docs
        }
        for version in _versions():
            assert [] == _validate(docs, version)

    def test_configmap_holds_the_config_files(self) -> None:
        """The generated ConfigMap holds config/'s files and the pods mount it by its hash name."""
        docs = kustomize_build()
        (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
        for key in ("policies.yaml", "topics.yaml", "alerts.yaml"):
            assert (ROOT / "config" / key).read_text(encoding="utf-8") == cm["data"][key]
        (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        assert cm["metadata"]["name"] == volumes["config"]["configMap"]["name"]

    def test_kustomization_files_exist(self) -> None:
        """Every resource and generator file the kustomization names exists."""
        kz = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
        assert sorted(K8S_RESOURCES) == sorted(kz["resources"])
        for entry in kz["configMapGenerator"][0]["files"]:
            assert (K8S_DIR / entry.split("=", 1)[1]).is_file(), entry

    def test_variables_are_read_by_the_code(self) -> None:
        """Every SLAWATCH_* variable in the StatefulSet is one the worker reads."""
        env = k8s_env(worker_container(statefulset()))
        assert set() == {k for k in env if k.startswith(ENV_PREFIX)} - code_env_vars()

    def test_settings_are_valid(self) -> None:
        """The StatefulSet's environment passes the settings validation."""
        env = {k: v["value"] for k, v in k8s_env(worker_container(statefulset())).items()}
        settings = Settings.from_env(env)
        assert ("rocksdb", "0.0.0.0") == (settings.store.split("://")[0], settings.web_host)

    def test_secrets_come_from_a_secret(self) -> None:
        """No secret value is written in the manifest: secrets come from the Secret object."""
        container = worker_container(statefulset())
        for name in k8s_env(container):
            assert not any(word in name for word in SECRET_WORDS), name
        assert [{"secretRef": {"name": "slawatch-secrets"}}] == container["envFrom"]

    def test_data_directory_is_the_volume_claim(self) -> None:
        """The RocksDB data directory is the persistent volume of each pod."""
        sts = statefulset()
        container = worker_container(sts)
        env = k8s_env(container)
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert env["SLAWATCH_DATADIR"]["value"] == mounts[claim["metadata"]["name"]]
        assert env["SLAWATCH_STORE"]["value"].startswith("rocksdb")

    def test_config_paths_are_in_the_config_mount(self) -> None:
        """Policies, topics and alerts paths point at the mounted ConfigMap's keys."""
        container = worker_container(statefulset())
        env = k8s_env(container)
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        kz = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
        keys = {entry.split("=", 1)[0] for entry in kz["configMapGenerator"][0]["files"]}
        for var in ("SLAWATCH_POLICIES", "SLAWATCH_TOPICS", "SLAWATCH_ALERTS"):
            path = Path(env[var]["value"])
            assert (mounts["config"], True) == (str(path.parent), path.name in keys)

    def test_probes_use_the_web_port(self) -> None:
        """Readiness asks /ready and liveness /health, on the port the worker listens on."""
        container = worker_container(statefulset())
        env = k8s_env(container)
        (port,) = container["ports"]
        assert (web_port(), web_port()) == (
            port["containerPort"],
            int(env["SLAWATCH_WEB_PORT"]["value"]),
        )
        ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
        assert ("/ready", "/health") == (ready["path"], live["path"])
        assert {port["name"]} == {
            ready["port"],
            live["port"],
            container["startupProbe"]["httpGet"]["port"],
        }

    def test_headless_service_and_scrape_annotations(self) -> None:
        """The StatefulSet's service is headless and points Prometheus at the web port."""
        sts = statefulset()
        (svc,) = k8s_docs("service.yaml")
        assert (sts["spec"]["serviceName"], "None") == (
            svc["metadata"]["name"],
            svc["spec"]["clusterIP"],
        )
        (port,) = svc["spec"]["ports"]
        assert (web_port(), "web") == (port["port"], port["targetPort"])
        for notes in (
            svc["metadata"]["annotations"],
            sts["spec"]["template"]["metadata"]["annotations"],
        ):
            assert ("true", str(web_port()), "/metrics") == (
                notes["prometheus.io/scrape"],
                notes["prometheus.io/port"],
                notes["prometheus.io/path"],
            )

    def test_service_name_is_the_prometheus_job(self) -> None:
        """Under the Prometheus Operator the job is the Service name, as the rules expect."""
        from generators.rules import RuleOptions

        (svc,) = k8s_docs("service.yaml")
        (monitor,) = k8s_docs("servicemonitor.yaml")
        assert RuleOptions().job == svc["metadata"]["name"]
        assert {"web"} == {e["port"] for e in monitor["spec"]["endpoints"]}
        kz = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
        labels = kz["labels"][0]["pairs"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()

    def test_selectors_match_the_pods(self) -> None:
        """The Service, the PodDisruptionBudget and the spread rules select the worker pods."""
        sts = statefulset()
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        (svc,) = k8s_docs("service.yaml")
        (pdb,) = k8s_docs("poddisruptionbudget.yaml")
        spec = sts["spec"]["template"]["spec"]
        selectors = [
            svc["spec"]["selector"],
            pdb["spec"]["selector"]["matchLabels"],
            sts["spec"]["selector"]["matchLabels"],
            *(c["labelSelector"]["matchLabels"] for c in spec["topologySpreadConstraints"]),
        ]
        for selector in selectors:
            assert selector.items() <= pod_labels.items()
        assert 1 == pdb["spec"]["maxUnavailable"]

    def test_network_policy_admits_only_the_web_port(self) -> None:
        """The NetworkPolicy selects the workers and lets in named peers, on the web port only."""
        sts = statefulset()
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        (policy,) = k8s_docs("networkpolicy.yaml")
        spec = policy["spec"]
        ports = {
            p["name"]: p["containerPort"]
            for c in sts["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        (rule,) = spec["ingress"]
        assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
        assert (["Ingress"], [("TCP", "web")]) == (
            spec["policyTypes"],
            [(p["protocol"], p["port"]) for p in rule["ports"]],
        )
        assert web_port() == ports["web"]
        assert all(peer for peer in rule["from"])  # no empty peer: that would admit everyone
        kz = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
        assert "networkpolicy.yaml" in kz["resources"]

    def test_graceful_stop_has_time(self) -> None:
        """SIGTERM gets at least 30 s before the kill, as the compose file allows 60 s."""
        spec = statefulset()["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] >= 30

    def test_partitions_bound_the_replicas(self) -> None:
        """Not more workers than partitions (extra workers would sit idle)."""
        sts = statefulset()
        env = k8s_env(worker_container(sts))
        assert sts["spec"]["replicas"] <= int(env["SLAWATCH_PARTITIONS"]["value"])

    def test_config_check_runs_the_cli(self) -> None:
        """The init container calls an existing CLI command on the mounted files."""
        import typer.main

        from slawatch.cli import app

        (init,) = statefulset()["spec"]["template"]["spec"]["initContainers"]
        assert ["slawatch", "check-config"] == init["command"][:2]
        env = k8s_env(worker_container(statefulset()))
        files = [
            env[v]["value"] for v in ("SLAWATCH_POLICIES", "SLAWATCH_TOPICS", "SLAWATCH_ALERTS")
        ]
        assert files == init["command"][2:]
        assert init["command"][1] in typer.main.get_command(app).commands  # type: ignore[attr-defined]


# ---- the production page ------------------------------------------------------------------


def _doc_sections() -> tuple[str, str]:
    """(the page without its "Planned" section, that section)."""
    text = PRODUCTION_DOC.read_text(encoding="utf-8")
    head, sep, rest = text.partition("\n## Planned")
    assert sep, "docs/production.md has no '## Planned' section"
    planned, _, tail = rest.partition("\n## ")
    return head + "\n## " + tail, planned


class TestProductionDoc:
    def test_every_variable_is_documented(self) -> None:
        """Each variable the worker reads is described on the production page."""
        current, _ = _doc_sections()
        assert set() == code_env_vars() - set(_ENV_TOKEN.findall(current))

    def test_documented_variables_exist(self) -> None:
        """Outside the "Planned" section the page names only variables the code reads."""
        current, planned = _doc_sections()
        allowed = code_env_vars() | alerts_file_refs()
        assert set() == set(_ENV_TOKEN.findall(current)) - allowed
        assert set() == set(_ENV_TOKEN.findall(planned)) & code_env_vars()

    def test_topics_are_documented(self) -> None:
        """Each of slawatch's topics is named in the retention advice."""
        text = PRODUCTION_DOC.read_text(encoding="utf-8")
        assert set() == {t for t in TopicNames().model_dump().values() if f"`{t}`" not in text}
