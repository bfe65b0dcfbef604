#!/usr/bin/env python3
"""The body of bench/compare (which sets up the environment and builds Confide first): runs Confide and its
peers under the same load and writes raw JSON, summary.md and charts into a results folder.

Serving: for each precision, one server at a time on loopback — Confide (`confide serve`, the model entry of
scripts/fetch-minilm with its "precision"), TorchServe (bench/peers/torchserve) and the KServe Python model
server with OpenVINO (bench/peers/kserve_openvino.py) — each answering the same `confide bench` load (one
sentence of ../shared/testdata/bench/sentences.txt per request, at each concurrency). Per server: time from
start to the first successful inference, resident memory of its whole process tree when ready and at its peak
under load, and the embeddings checked against the reference.

Engine: bench/peers/engine.py (PyTorch, ONNX Runtime, OpenVINO) and `confide bench model` (skipped, with a
message, while that command does not exist) at sequence 128: all-MiniLM-L6-v2 at batch 1, 8, 32 and random
BERT-Large at batch 8.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import models  # noqa: E402
import verify  # noqa: E402

PRECISIONS = ("fp32", "bf16", "int8")
SERVING_PEERS = ("torchserve", "kserve-openvino")
ENGINE_PEERS = ("pytorch", "onnxruntime", "openvino")
LABELS = {"confide": "Confide", "torchserve": "TorchServe + PyTorch", "kserve-openvino": "KServe + OpenVINO",
          "pytorch": "PyTorch", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}


def say(message: str) -> None:
    print(f"compare: {message}", file=sys.stderr, flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], check=True, **kwargs)


LOG_TAIL_BYTES = 20_000


def copy_log_tail(source: Path, destination: Path) -> None:
    """Copies the last LOG_TAIL_BYTES of a server's log: KServe writes a line per request, megabytes per run."""
    with source.open("rb") as log:
        log.seek(0, os.SEEK_END)
        log.seek(max(0, log.tell() - LOG_TAIL_BYTES))
        destination.write_bytes(log.read())


# ---------------------------------------------------------------------------------------------------------------
# Servers


class Server:
    """A server started in its own process group, timed to its first successful inference, measured, stopped."""

    def __init__(self, name: str, precision: str, command: list[str], url: str, protocol: str, log: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None, variant: str | None = None):
        self.name, self.precision, self.command, self.url, self.protocol, self.log = \
            name, precision, command, url, protocol, log
        self.env, self.cwd, self.variant = env, cwd, variant
        self.title = f"{name} {precision}" + (f" ({variant})" if variant else "")
        self.process: subprocess.Popen | None = None
        self.peak_rss = 0
        self._sampling = False

    def start(self, timeout: float) -> float:
        """Starts the server; returns the seconds until it answered an inference request."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.process = subprocess.Popen([str(c) for c in self.command], stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True, env=self.env, cwd=self.cwd)
        probe = verify.request(self.url, self.protocol, "minilm", "A cat sat on the mat.")
        last = "no answer"
        server_errors = 0  # 404 and 503 are normal while a server loads; a run of 500s is not
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(probe, timeout=10) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read()[:200]!r}"
                server_errors = server_errors + 1 if error.code == 500 else 0
                if server_errors >= 20:
                    raise RuntimeError(f"{self.name} answers {last}; see {self.log}")
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
                last = str(error)
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s ({last}); see {self.log}")
            time.sleep(0.05)

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        """Resident bytes of the server's whole process tree (the JVM and workers for TorchServe)."""
        total = 0
        for process in self.tree():
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def sample_peak(self) -> threading.Thread:
        self._sampling = True

        def loop():
            while self._sampling:
                self.peak_rss = max(self.peak_rss, self.rss())
                time.sleep(0.5)
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._sampling = False
        if not self.process or self.process.poll() is not None:
            return
        processes = self.tree()
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, alive = psutil.wait_procs(processes, timeout=20)
        for process in alive:  # whatever ignored SIGTERM, or left the group
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_port_free(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not port_free(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} is still in use: stop what listens there, or pass --port")
        time.sleep(0.2)


def confide_server(args, precision: str, work: Path) -> list[Server]:
    store = work / f"confide-{precision}" / "models"
    entry = store / "minilm"
    shutil.rmtree(store, ignore_errors=True)
    run([REPO / "scripts" / "fetch-minilm", entry], stdout=subprocess.DEVNULL)
    config = json.loads((entry / "model.json").read_text())
    config.setdefault("parameters", {})["precision"] = precision
    (entry / "model.json").write_text(json.dumps(config, indent=4) + "\n")
    command = [args.confide, "serve", "--handlers", args.handlers, "--models", store, "--port", args.port,
               "--no-metrics", "--no-management", "--attestation", "simulated"]
    return [Server("confide", precision, command, f"http://127.0.0.1:{args.port}", "kserve",
                   work / f"confide-{precision}" / "server.log", cwd=REPO)]


def torchserve_server(args, precision: str, work: Path) -> list[Server]:
    folder = work / f"torchserve-{precision}"
    store = folder / "model-store"
    shutil.rmtree(folder, ignore_errors=True)
    store.mkdir(parents=True)
    staging = folder / "files"
    staging.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(args.model_dir / name, staging / name)
    (staging / "setup_config.json").write_text(json.dumps({"precision": precision, "threads": 1}) + "\n")
    extra = ",".join(str(staging / name) for name in
                     ("config.json", "model.safetensors", "tokenizer.json", "setup_config.json"))
    bin_dir = Path(sys.executable).parent
    run([bin_dir / "torch-model-archiver", "--model-name", "minilm", "--version", "1.0",
         "--handler", HERE / "torchserve" / "handler.py", "--extra-files", extra, "--export-path", store, "--force"])
    template = (HERE / "torchserve" / "config.properties").read_text()
    port = int(args.port)
    config = (template.replace("@PORT@", str(port)).replace("@MANAGEMENT_PORT@", str(port + 1))
              .replace("@METRICS_PORT@", str(port + 2)).replace("@MODEL_STORE@", str(store))
              .replace("@BATCH_SIZE@", str(args.torchserve_batch_size))
              .replace("@MAX_BATCH_DELAY@", str(args.torchserve_max_batch_delay)))
    (folder / "config.properties").write_text(config)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", LOG_LOCATION=str(folder / "logs"),
               METRICS_LOCATION=str(folder / "logs"))
    command = [bin_dir / "torchserve", "--start", "--foreground", "--ncs", "--disable-token-auth",
               "--model-store", store, "--ts-config", folder / "config.properties"]
    return [Server("torchserve", precision, command, f"http://127.0.0.1:{port}", "torchserve",
                   folder / "server.log", env=env, cwd=folder)]


def kserve_server(args, precision: str, work: Path) -> list[Server]:
    """One server per --kserve-streams value: 1 stream runs a request at a time on both threads (the lowest
    latency at one client), 2 streams run two at once on one thread each (more throughput under load)."""
    folder = work / f"kserve-openvino-{precision}"
    shutil.rmtree(folder, ignore_errors=True)
    run([sys.executable, HERE / "models.py", "openvino-ir", "--model-dir", args.model_dir, "--precision", precision,
         "--out", folder / "model", "--cache", args.cache, "--calibration", args.sentences],
        stdout=subprocess.DEVNULL)
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    servers = []
    for streams in [int(n) for n in args.kserve_streams.split(",") if n]:
        command = [sys.executable, HERE / "kserve_openvino.py", "--model_name", "minilm", "--model_dir",
                   folder / "model", "--http_port", args.port, "--streams", streams, "--threads", "2"]
        servers.append(Server("kserve-openvino", precision, command, f"http://127.0.0.1:{args.port}", "kserve",
                              folder / f"server-{streams}.log", env=env,
                              variant=f"{streams} stream{'s' * (streams > 1)} × {2 // streams} thread"
                              + "s" * (2 // streams > 1)))
    return servers


BUILDERS = {"confide": confide_server, "torchserve": torchserve_server, "kserve-openvino": kserve_server}


def serve_and_load(args, server: Server, out: Path) -> dict[str, Any]:
    record: dict[str, Any] = {"server": server.name, "precision": server.precision}
    if server.variant:
        record["variant"] = server.variant
    wait_port_free(int(args.port))
    load_before = os.getloadavg()[0]
    try:
        say(f"{server.title}: starting")
        record["start_to_ready_s"] = round(server.start(args.start_timeout), 3)
        record["rss_ready_mib"] = round(server.rss() / 2**20, 1)
        check = verify.check(server.url, server.protocol, count=args.verify_count)
        check["required"] = verify.MIN_COSINE[server.precision]
        check["ok"] = check["min_cosine"] >= check["required"]
        record["embeddings"] = check
        say(f"{server.title}: ready in {record['start_to_ready_s']} s, "
            f"{record['rss_ready_mib']} MiB; cosine to the reference min {check['min_cosine']}")
        if not check["ok"]:
            raise RuntimeError(f"{server.title}: embeddings disagree with the reference "
                               f"(min cosine {check['min_cosine']} < {check['required']})")
        sampler = server.sample_peak()
        command = [args.confide, "bench", "--url", server.url, "--model", "minilm", "--sentences", args.sentences,
                   "--concurrency", args.concurrency, "--duration", args.seconds, "--warmup", args.warmup, "--json"]
        if server.protocol == "torchserve":
            command.append("--torchserve")
        result = run(command, stdout=subprocess.PIPE, text=True)
        sampler_stop = server.rss()
        server._sampling = False
        sampler.join(timeout=2)
        record["bench"] = json.loads(result.stdout.strip().splitlines()[-1])
        record["rss_peak_mib"] = round(max(server.peak_rss, sampler_stop) / 2**20, 1)
        record["rss_after_mib"] = round(sampler_stop / 2**20, 1)
    except Exception as error:  # one failed server must not lose the others' results
        say(f"{server.title}: FAILED: {error}")
        record["error"] = str(error)
    finally:
        server.stop()
        if server.log.exists():
            suffix = "".join(c for c in server.variant.split(" ×")[0] if c.isalnum()) if server.variant else ""
            copy_log_tail(server.log, out / f"{server.name}-{server.precision}{'-' * bool(suffix)}{suffix}.log")
    record["loadavg_before"] = round(load_before, 2)
    record["loadavg_after"] = round(os.getloadavg()[0], 2)
    return record


def serving_key(row: dict) -> tuple:
    """A rerun of a server at a precision replaces all its earlier rows there (every variant)."""
    return row["server"], row["precision"]


def label(row: dict) -> str:
    return LABELS[row["server"]] + (f", {row['variant']}" if row.get("variant") else "")


def engine_key(row: dict) -> tuple:
    return row["peer"], row.get("model"), row.get("precision")


def merge(old: list[dict], new: list[dict], key) -> list[dict]:
    """`old` less the rows `new` measures again (and a peer's old "not measured" notes when it has new rows)."""
    keys = {key(row) for row in new}
    fresh = {key(row)[0] for row in new}
    return [row for row in old if key(row) not in keys and not (key(row)[0] in fresh and None in key(row))] + new


def serving(args, out: Path, work: Path, earlier: list[dict]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    servers = ["confide"] * (not args.skip_confide) + args.peers
    for precision in args.precisions:
        for name in servers:
            try:
                prepared = BUILDERS[name](args, precision, work)
            except Exception as error:
                say(f"{name} {precision}: could not be prepared: {error}")
                records.append({"server": name, "precision": precision, "error": f"preparing: {error}"})
                continue
            for server in prepared:
                records.append(serve_and_load(args, server, out))
                (out / "serving.json").write_text(json.dumps(merge(earlier, records, serving_key), indent=2) + "\n")
    return records


# ---------------------------------------------------------------------------------------------------------------
# Engine level


def confide_engine(args, out: Path, work: Path) -> list[dict[str, Any]]:
    # Before `confide bench model` existed, `confide bench model --help` printed `bench http`'s help (the default
    # subcommand) and exited 0: look for the new command's own option.
    probe = subprocess.run([str(args.confide), "bench", "model", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 or "--model-dir" not in probe.stdout:
        message = ("`confide bench model` is not in this build of Confide yet; Confide's engine-level rows are "
                   f"skipped (once it is: bench/compare --only engine --out {out})")
        say(message)
        return [{"peer": "confide", "skipped": message}]
    rows: list[dict[str, Any]] = []
    for precision in args.precisions:
        for model in args.engine_models:
            folder = work / f"engine-{precision}" / model
            shutil.rmtree(folder, ignore_errors=True)
            if model == "minilm":
                run([REPO / "scripts" / "fetch-minilm", folder], stdout=subprocess.DEVNULL)
                config = json.loads((folder / "model.json").read_text())
                batches = args.batches
            else:
                folder.mkdir(parents=True)
                (folder / "config.json").write_text(json.dumps({"model_type": "bert", **models.BERT_LARGE}) + "\n")
                config = {"handler": "bert", "parameters": {"random_weights": True, "seed": 7}}
                batches = str(args.large_batch)
            config.setdefault("parameters", {})["precision"] = precision
            (folder / "model.json").write_text(json.dumps(config, indent=4) + "\n")
            command = [args.confide, "bench", "model", "--model-dir", folder, "--handlers", args.handlers,
                       "--batch", batches, "--sequence", "128", "--threads", "2", "--seconds", args.seconds,
                       "--word", models.ENGINE_WORD, "--json"]
            say(f"confide engine {model} {precision}")
            result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=REPO)
            base = {"peer": "confide", "model": model, "precision": precision, "sequence": 128, "threads": 2}
            if result.returncode != 0:
                rows.append({**base, "skipped": f"confide bench model failed: {result.stderr.strip()[-500:]}"})
                continue
            parsed = parse_confide_engine(result.stdout)
            rows += [{**row, **base, "batch": row["batch"], "sequences_per_s": round(row["sequences_per_s"], 2)}
                     for row in parsed] or [{**base, "skipped": "no rows understood in its output",
                                             "raw": result.stdout[-2000:]}]
    return rows


def parse_confide_engine(text: str) -> list[dict[str, Any]]:
    """Rows with a batch and a sequences/s figure, from JSON (one document, or one object per line), whatever
    the exact field names: `confide bench model` was written alongside this script."""
    documents: list[Any] = []
    try:
        documents = [json.loads(text)]
    except ValueError:
        for line in text.splitlines():
            try:
                documents.append(json.loads(line))
            except ValueError:
                continue
    rows: list[dict[str, Any]] = []

    def visit(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            rate = next((value[k] for k in ("sequences_per_s", "sequences_per_second", "sequencesPerSecond",
                                            "throughput") if isinstance(value.get(k), (int, float))), None)
            batch = value.get("batch", value.get("batch_size"))
            if rate is not None and isinstance(batch, int):
                rows.append({**value, "batch": batch, "sequences_per_s": float(rate)})
            else:
                for item in value.values():
                    visit(item)
    visit(documents)
    return rows


def engine(args, out: Path, work: Path, earlier: list[dict]) -> list[dict[str, Any]]:
    """`--engine-rounds` rounds of Confide then every peer; each row says its round, so each ratio can be taken
    between measurements minutes apart instead of a whole run apart."""
    rows: list[dict[str, Any]] = []
    for number in range(1, args.engine_rounds + 1):
        if args.engine_rounds > 1:
            say(f"engine round {number} of {args.engine_rounds}")
        measured: list[dict[str, Any]] = []
        if not args.skip_confide:
            measured += confide_engine(args, out, work)
        if args.engine_peers:
            command = [sys.executable, HERE / "engine.py", "--seconds", args.seconds, "--warmup", args.warmup,
                       "--peers", ",".join(args.engine_peers), "--models", ",".join(args.engine_models),
                       "--precisions", ",".join(args.precisions), "--batches", args.batches,
                       "--large-batch", args.large_batch, "--model-dir", args.model_dir, "--cache", args.cache,
                       "--calibration", args.sentences]
            say("engine-level peers: " + ", ".join(args.engine_peers))
            result = run(command, stdout=subprocess.PIPE, text=True)
            measured += [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        rows += [{**row, "round": number} for row in measured]
    merged = merge(earlier, rows, engine_key)
    (out / "engine.jsonl").write_text("".join(json.dumps(row) + "\n" for row in merged))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Summary


def fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def levels_of(serving_rows: list[dict]) -> list[int]:
    return sorted({r["concurrency"] for row in serving_rows for r in row.get("bench", {}).get("results", [])})


def precisions_of(rows: list[dict]) -> list[str]:
    return [p for p in PRECISIONS if any(row.get("precision") == p for row in rows)]


def summary(args, meta: dict[str, Any], serving_rows: list[dict], engine_rows: list[dict], out: Path) -> str:
    order = ["confide", *SERVING_PEERS]
    serving_rows = sorted(serving_rows, key=lambda r: (PRECISIONS.index(r["precision"]), order.index(r["server"])))
    levels = [str(c) for c in levels_of(serving_rows)] or args.concurrency.split(",")
    lines = [f"# Confide and its peers, {meta['started_utc']}", "",
             f"Machine: {meta['cpus']} CPUs, {meta['cpu_model']}; load average at the start {meta['loadavg_start']}, "
             f"at the end {meta['loadavg_end']}. Client and servers share these cores.",
             f"Command: `{meta['command']}` (git {meta['git']}). {meta['args']['seconds']} s per measurement "
             f"after {meta['args']['warmup']} s of warm-up."]
    if meta.get("earlier"):
        lines.append(f"Rows not measured again were kept from earlier runs into this folder: "
                     + "; ".join(f"`{m['command']}` at {m['started_utc']}" for m in meta["earlier"]) + ".")
    lines.append("")
    if serving_rows:
        lines += ["## Serving all-MiniLM-L6-v2", "",
                  "`confide bench` (closed loop, one sentence of `sentences.txt` per request) against each server "
                  "in turn on loopback. Start: from launch to the first answered inference. Memory: resident, "
                  "summed over the server's process tree (ready / peak under load).", "",
                  "| precision | server | start (s) | memory ready / peak (MiB) | min cosine | "
                  + " | ".join(f"{c} client{'s' * (c != '1')}: req/s, p50 / p99 (ms)" for c in levels)
                  + " |",
                  "|---|---|---|---|---|" + "---|" * len(levels)]
        for row in serving_rows:
            cells = []
            results = {r["concurrency"]: r for r in row.get("bench", {}).get("results", [])}
            for c in levels:
                r = results.get(int(c))
                cells.append("—" if not r else f"{fmt(r['throughput'])}, {r['p50_ms']:.1f} / {r['p99_ms']:.1f}"
                             + (f" ({r['errors']} errors)" if r.get("errors") else ""))
            if "error" in row:
                cells = [f"failed: {row['error'][:80]}"] + [""] * (len(cells) - 1)
            lines.append(f"| {row['precision']} | {label(row)} | {fmt(row.get('start_to_ready_s'), 2)} | "
                         f"{fmt(row.get('rss_ready_mib'))} / {fmt(row.get('rss_peak_mib'))} | "
                         f"{fmt(row.get('embeddings', {}).get('min_cosine'), 4)} | " + " | ".join(cells) + " |")
        ratios = []
        for precision in precisions_of(serving_rows):
            for c in [int(c) for c in levels]:
                def result(row):
                    return next((r for r in row.get("bench", {}).get("results", []) if r["concurrency"] == c), None)
                mine = next((result(r) for r in serving_rows if r["server"] == "confide"
                             and r["precision"] == precision and result(r)), None)
                peers = [(label(r), result(r)) for r in serving_rows if r["server"] != "confide"
                         and r["precision"] == precision and result(r)]
                if not mine or not peers:
                    continue
                best_name, best = max(peers, key=lambda p: p[1]["throughput"])
                fastest = min(p[1]["p50_ms"] for p in peers)
                ratios.append(f"| {precision} | {c} | {fmt(mine['throughput'])} | {best_name} | "
                              f"{fmt(best['throughput'])} | {mine['throughput'] / best['throughput']:.2f}× | "
                              f"{fastest / mine['p50_ms']:.2f}× |")
        if ratios:
            lines += ["", "Confide ÷ the best peer at the same precision and concurrency (throughput; for p50 "
                      "latency, the best peer's ÷ Confide's, so above 1 means Confide is faster):", "",
                      "| precision | clients | Confide req/s | best peer | its req/s | throughput ratio | p50 ratio |",
                      "|---|---|---|---|---|---|---|"] + ratios
        lines.append("")
    if engine_rows:
        skipped = [r for r in engine_rows if "skipped" in r]
        measured = [r for r in engine_rows if "sequences_per_s" in r]
        peers = [p for p in ENGINE_PEERS if any(r["peer"] == p for r in measured)]
        rounds = sorted({r.get("round", 1) for r in measured})
        lines += ["## Engine level (no server)", "",
                  "Sequences per second of 128 tokens, 2 threads. Peers: the best of their variants (PyTorch BF16: "
                  "weights cast or autocast); `engine.jsonl` has each."]
        if len(rounds) > 1:
            lines.append(f"{len(rounds)} rounds, each Confide then every peer: rates are medians over the rounds, "
                         "and the ratio is the median of each round's Confide ÷ best peer (with its range).")
        lines += ["", "| " + " | ".join(["model", "precision", "batch", "Confide", *(LABELS[p] for p in peers),
                                         "Confide ÷ best peer"]) + " |", "|---" * (5 + len(peers)) + "|"]
        keys = sorted({(r["model"], r["precision"], r["batch"]) for r in measured},
                      key=lambda k: (k[0] != "minilm", PRECISIONS.index(k[1]), k[2]))
        for model, precision, batch in keys:
            def best(peer, number):
                rates = [r["sequences_per_s"] for r in measured if r["peer"] == peer and r["model"] == model
                         and r["precision"] == precision and r["batch"] == batch and r.get("round", 1) == number]
                return max(rates) if rates else None

            def median(values):
                values = sorted(v for v in values if v)
                if not values:
                    return None
                middle = len(values) // 2
                return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
            mine = median(best("confide", n) for n in rounds)
            others = {p: median(best(p, n) for n in rounds) for p in peers}
            per_round = []
            for n in rounds:
                top = max((v for v in (best(p, n) for p in peers) if v), default=None)
                if best("confide", n) and top:
                    per_round.append(best("confide", n) / top)
            ratio = "—"
            if per_round:
                ratio = f"{median(per_round):.2f}×"
                if len(per_round) > 1:
                    ratio += f" ({min(per_round):.2f}–{max(per_round):.2f})"
            lines.append("| " + " | ".join([model, precision, str(batch), fmt(mine, 1),
                                            *(fmt(others[p], 1) for p in peers), ratio]) + " |")
        if skipped:
            notes = dict.fromkeys("- " + " ".join(filter(None, (LABELS.get(r["peer"], r["peer"]), r.get("model"),
                                                             r.get("precision")))) + ": "
                                  + " ".join(r["skipped"].split())[:300] for r in skipped)
            lines += ["", "Not measured:", "", *notes]
        lines.append("")
    charts = [f"serving-{p}.png" for p in PRECISIONS if (out / f"serving-{p}.png").exists()]
    if charts:
        lines += ["## Charts", ""] + [f"![{name}]({name})" for name in charts] + [""]
    lines += ["## Versions", ""] + [f"- {k}: {v}" for k, v in meta["versions"].items()] + [""]
    return "\n".join(lines)


def charts(args, serving_rows: list[dict], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    levels = levels_of(serving_rows)
    for precision in precisions_of(serving_rows):
        rows = [r for r in serving_rows if r["precision"] == precision and r.get("bench")]
        if not rows:
            continue
        figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
        for row in rows:
            results = sorted(row["bench"]["results"], key=lambda r: r["concurrency"])
            axis.plot([r["concurrency"] for r in results], [r["throughput"] for r in results], marker="o",
                      label=label(row), linewidth=2.5 if row["server"] == "confide" else 1.5)
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, labels=[str(c) for c in levels])
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel("requests per second")
        axis.set_ylim(bottom=0)
        axis.set_title(f"all-MiniLM-L6-v2 {precision.upper()}: one sentence per request, {os.cpu_count()} cores")
        axis.grid(True, alpha=0.3)
        axis.legend()
        figure.tight_layout()
        figure.savefig(out / f"serving-{precision}.png")
        plt.close(figure)


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/compare", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per measurement (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each (default 2)")
    parser.add_argument("--only", choices=["engine", "serving"], help="run one part only")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="default fp32,bf16,int8")
    parser.add_argument("--peers", default=",".join(SERVING_PEERS), help="serving peers (default: all)")
    parser.add_argument("--engine-peers", default=",".join(ENGINE_PEERS),
                        help="engine-level peers (default: all; empty: Confide's rows only)")
    parser.add_argument("--engine-models", default="minilm,bert-large")
    parser.add_argument("--skip-confide", action="store_true", help="peers only")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--batches", default="1,8,32", help="engine level, all-MiniLM-L6-v2 (default 1,8,32)")
    parser.add_argument("--large-batch", default="8", help="engine level, BERT-Large (default 8)")
    parser.add_argument("--engine-rounds", type=int, default=1, help="engine level: rounds of Confide then every "
                        "peer; the summary takes medians (default 1)")
    parser.add_argument("--sentences", type=Path, default=models.DEFAULT_SENTENCES)
    parser.add_argument("--model-dir", type=Path, default=models.DEFAULT_MODEL_DIR)
    parser.add_argument("--cache", type=Path, default=models.DEFAULT_CACHE)
    parser.add_argument("--confide", type=Path, default=REPO / ".build" / "release" / "confide")
    parser.add_argument("--handlers", type=Path, default=REPO / "handlers")
    parser.add_argument("--port", default="18190", help="loopback port of the server under test (TorchServe "
                        "also takes the next two)")
    parser.add_argument("--start-timeout", type=float, default=180, help="seconds a server may take to be ready")
    parser.add_argument("--verify-count", type=int, default=8, help="reference texts checked per server")
    parser.add_argument("--torchserve-batch-size", type=int, default=32)
    parser.add_argument("--torchserve-max-batch-delay", type=int, default=5, help="milliseconds (default 5)")
    parser.add_argument("--kserve-streams", default="1,2", help="OpenVINO streams (requests at once, sharing 2 "
                        "threads) of the KServe server, one server run per value (default 1,2: both rows)")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results/<UTC time>); when it "
                        "holds results already, the rows measured again replace theirs and the rest are kept")
    parser.add_argument("--summary-only", action="store_true", help="only rewrite --out's summary.md and charts "
                        "from its raw results")
    args = parser.parse_args()
    args.precisions = [p for p in args.precisions.split(",") if p]
    args.peers = [p for p in args.peers.split(",") if p]
    args.engine_peers = [p for p in args.engine_peers.split(",") if p]
    args.engine_models = [m for m in args.engine_models.split(",") if m]
    for name, values, allowed in (("precisions", args.precisions, PRECISIONS), ("peers", args.peers, SERVING_PEERS),
                                  ("engine-peers", args.engine_peers, ENGINE_PEERS),
                                  ("engine-models", args.engine_models, ("minilm", "bert-large"))):
        if bad := set(values) - set(allowed):
            parser.error(f"--{name}: unknown {', '.join(sorted(bad))} (known: {', '.join(allowed)})")
    for path in (args.sentences, args.model_dir / "config.json"):
        if not path.exists():
            parser.error(f"{path} is missing")
    if not args.skip_confide or args.only != "engine":
        if not args.confide.exists():
            parser.error(f"{args.confide} is missing: build it (bench/compare does)")
    args.sentences = args.sentences.resolve()
    args.confide = args.confide.resolve()
    args.handlers = args.handlers.resolve()

    started = dt.datetime.now(dt.timezone.utc)
    out = (args.out or REPO / "bench" / "results" / started.strftime("%Y-%m-%dT%H%M%SZ")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    meta: dict[str, Any] = {
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"), "command": shlex.join(["bench/compare", *sys.argv[1:]]),
        "git": git.stdout.strip(), "cpus": os.cpu_count(), "cpu_model": cpu,
        "loadavg_start": round(os.getloadavg()[0], 2), "python": platform.python_version(),
        "versions": {**models.versions("torch", "torchserve", "kserve", "openvino", "nncf", "onnxruntime",
                                       "transformers"),
                     "java": subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
                     .splitlines()[0]},
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    say(f"results in {out}")
    # SIGTERM (and SIGHUP) as Ctrl-C: unwind, so that the server under test is stopped and the summary written.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.default_int_handler)
    # Earlier results in the same folder: kept, less what this run measures again.
    earlier_serving = json.loads((out / "serving.json").read_text()) if (out / "serving.json").exists() else []
    earlier_engine = [json.loads(line) for line in (out / "engine.jsonl").read_text().splitlines()
                      if line.startswith("{")] if (out / "engine.jsonl").exists() else []
    if (out / "meta.json").exists():
        previous = json.loads((out / "meta.json").read_text())
        if args.summary_only:
            meta = previous
        else:
            meta["earlier"] = previous.pop("earlier", []) + [previous]
    elif args.summary_only:
        parser.error(f"--summary-only: {out} holds no results")
    serving_rows: list[dict] = []
    engine_rows: list[dict] = []
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"confide-compare-{os.getpid()}"  # servers' files, removed
    try:
        work.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "serving") and not args.summary_only:
            serving_rows = serving(args, out, work, earlier_serving)
        if args.only in (None, "engine") and not args.summary_only:
            engine_rows = engine(args, out, work, earlier_engine)
    finally:
        if not args.summary_only:
            meta["loadavg_end"] = round(os.getloadavg()[0], 2)
            meta["finished_utc"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        all_serving = merge(earlier_serving, serving_rows, serving_key)
        all_engine = merge(earlier_engine, engine_rows, engine_key)
        if all_serving:
            charts(args, all_serving, out)
        (out / "summary.md").write_text(summary(args, meta, all_serving, all_engine, out))
        shutil.rmtree(work, ignore_errors=True)
    say(f"done: {out / 'summary.md'}")
    failed = [r for r in serving_rows if "error" in r]
    if failed:
        say(f"{len(failed)} server run(s) failed: " + ", ".join(f"{r['server']} {r['precision']}" for r in failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
