"""Presenting bench results: rich tables in the terminal and a 2x2 PNG figure (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

RUNTIMES = (
    ("engine_int8", "aievm engine int8"),
    ("numpy_float32", "numpy float32"),
    ("onnxruntime_float32", "onnxruntime float32"),
    ("tflite_int8", "TFLite int8 (LiteRT)"),
)


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.1f}"


def _yes(flag: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]NO[/]", None: "-"}[flag]


def machine_line(machine: dict) -> str:
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
        for b in machine["blas"]
    )
    load = ", ".join(f"{x:.1f}" for x in machine["load_average"])
    return (
        f"{machine['cpu_model']}, {machine['nproc']} cores; Python {machine['python']}, numpy "
        f"{machine['numpy']}; BLAS {blas}; load average {load}"
    )


def print_report(results: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(
        f"[bold]aievm bench[/] ({'quick' if results['quick'] else 'full'}, {results['date']},"
        f" {results['seconds']:.0f} s)"
    )
    console.print(machine_line(results["machine"]))
    for table in _tables(results):
        console.print(table)


def infer_gas_table(section: dict) -> Table:
    ec = section["ecrecover"]
    table = Table(
        title=f"INFER gas/s vs ECRECOVER ({ec['gas_per_s'] / 1e6:.1f} Mgas/s, "
        f"{ec['us_per_call']:.1f} µs per {ec['gas_per_call']:,.0f}-gas call), same VM, same run"
    )
    columns = ("model", "bytes", "cold gas", "cold µs", "× ECRECOVER", "warm gas", "warm µs", "× ECRECOVER",
               "MODELINFO ×")
    for col in columns:
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, row in section["models"].items():
        cells = [name, f"{row['bytes']:,}"]
        for case in ("cold", "warm"):
            r = row[case]
            cells += [f"{r['gas_per_op']:,.0f}", f"{r['us_per_op']:,.1f}", f"{r['ratio']:.2f}"]
        table.add_row(*cells, f"{row['modelinfo']['ratio']:.2f}")
    return table


def baseline_table(section: dict) -> Table:
    table = Table(title="INFER vs the same network in plain Solidity (Int8Net), eth_call on the same node")
    for col in (
        "model",
        "samples",
        "same output",
        "INFER gas",
        "Solidity gas",
        "× cheaper",
        "INFER ms",
        "Solidity s",
        "× faster",
        "Solidity upload gas",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, row in section.items():
        if not isinstance(row, dict):
            continue
        table.add_row(
            name,
            str(row["samples"]),
            _yes(row["outputs_equal"]),
            f"{row['infer']['gas']:,.0f}",
            f"{row['solidity']['gas']:,.0f}",
            f"{row['gas_ratio']:,.0f}",
            f"{row['infer']['seconds'] * 1e3:.2f}",
            f"{row['solidity']['seconds']:.1f}",
            f"{row['time_ratio']:,.0f}",
            f"{row['solidity']['upload_gas']:,}",
        )
    return table


def engine_table(section: dict) -> Table:
    table = Table(title="Engine alone: µs per single-sample inference (median, 1 thread each)")
    table.add_column("model")
    table.add_column("MACs", justify="right")
    for _, label in RUNTIMES:
        table.add_column(label, justify="right")
    for col in ("engine / TFLite", "engine / numpy", "engine / onnxruntime"):
        table.add_column(col, justify="right")
    for name, row in section.items():
        if not isinstance(row, dict):
            continue
        t, r = row["timings"], row["engine_ratio"]
        cells = [_us(t[key]["median"]) if key in t else "-" for key, _ in RUNTIMES]
        ratios = [
            f"{r[k]:.2f}" if k in r else "-" for k in ("tflite_int8", "numpy_float32", "onnxruntime_float32")
        ]
        table.add_row(name, f"{row['macs']:,}", *cells, *ratios)
    return table


def opml_table(section: dict) -> Table:
    table = Table(title="Optimistic inference disputes (aievm opml demo scenarios, in-process devnet)")
    columns = ("model", "scenario", "outcome", "rounds", "submitter gas", "challenger gas", "proof gas", "s")
    for col in columns:
        table.add_column(col, justify="left" if col in ("model", "scenario", "outcome") else "right")
    for d in section["disputes"]:
        table.add_row(
            d["model"], d["scenario"], d["status"], str(d["rounds"]), f"{d['submitter_gas']:,}",
            f"{d['challenger_gas']:,}", f"{d['proof_gas']:,}", f"{d['seconds']:.1f}",
        )
    return table


def rpc_table(section: dict) -> Table:
    table = Table(title="JSON-RPC end to end (aievm node process on loopback, MNIST MLP)")
    for col in ("figure", "median", "p95", "ratio to baseline"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    infer, tiny = section["model_infer_call_ms"], section["tiny_call_ms"]
    table.add_row(
        "modelInfer eth_call (ms)",
        f"{infer['median']:.2f}",
        f"{infer['p95']:.2f}",
        f"{section['model_infer_vs_tiny_call']:.2f} × tiny call",
    )
    table.add_row("tiny eth_call (ms)", f"{tiny['median']:.2f}", f"{tiny['p95']:.2f}", "")
    table.add_row("transfers with receipts (/s)", f"{section['transfers_per_s']:.0f}", "", "")
    table.add_row(
        "modelInfer transactions with receipts (/s)",
        f"{section['infer_transactions_per_s']:.0f}",
        "",
        f"{section['infer_tx_vs_transfer_rate']:.2f} × transfers",
    )
    rss = section["rss_mb"]
    table.add_row(
        f"node RSS over {rss['calls']:,} INFER calls (MB)",
        f"{rss['start']:.1f} → {rss['end']:.1f}",
        f"max {rss['max']:.1f}",
        f"+{rss['growth']:.1f} MB",
    )
    return table


def targets_table(targets: dict) -> Table:
    table = Table(title="Targets")
    for col in ("target", "measured", "goal", "met"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for name, row in targets.items():
        value = "-" if row["value"] is None else f"{row['value']:,.2f}"
        table.add_row(name, value, row["target"], _yes(row["met"]))
    return table


def plot(results: dict, path: Path) -> None:
    """Write a 2x2 figure: gas/s vs ECRECOVER, gas vs Solidity, engine µs by runtime, node RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    (ax_gas, ax_sol), (ax_eng, ax_rss) = axes
    if "infer_gas" in results:
        rows = results["infer_gas"]["models"]
        ax_gas.barh(list(rows), [r["cold"]["ratio"] for r in rows.values()], color="tab:blue", label="cold")
        ax_gas.scatter([r["warm"]["ratio"] for r in rows.values()], list(rows), color="tab:orange",
                       zorder=3, label="warm")
        ax_gas.axvspan(0.8, 2.0, color="tab:green", alpha=0.15, label="target 0.8x-2.0x")
        ax_gas.axvline(1.0, color="black", lw=0.8)
        ax_gas.set_xlabel("INFER gas/s ÷ ECRECOVER gas/s")
        ax_gas.set_title("Gas pricing vs ECRECOVER")
        ax_gas.legend(loc="lower right")
    if "solidity_baseline" in results:
        rows = {k: v for k, v in results["solidity_baseline"].items() if isinstance(v, dict)}
        x = range(len(rows))
        ax_sol.bar([i - 0.2 for i in x], [r["infer"]["gas"] for r in rows.values()], 0.4, label="INFER")
        ax_sol.bar(
            [i + 0.2 for i in x], [r["solidity"]["gas"] for r in rows.values()], 0.4, label="plain Solidity"
        )
        for i, r in zip(x, rows.values(), strict=True):
            ax_sol.annotate(
                f"{r['gas_ratio']:,.0f}× cheaper", (i, r["solidity"]["gas"]), ha="center", va="bottom"
            )
        ax_sol.set_xticks(list(x), list(rows))
        ax_sol.set_yscale("log")
        ax_sol.set_ylim(1e3, 10 * max(r["solidity"]["gas"] for r in rows.values()))
        ax_sol.set_ylabel("gas per inference (eth_call)")
        ax_sol.set_title("INFER vs the same network in Solidity")
        ax_sol.legend(loc="upper left")
    if "engine" in results:
        rows = {k: v for k, v in results["engine"].items() if isinstance(v, dict)}
        width = 0.2
        for j, (key, label) in enumerate(RUNTIMES):
            xs = [i + (j - 1.5) * width for i in range(len(rows))]
            ys = [r["timings"][key]["median"] * 1e6 if key in r["timings"] else 0 for r in rows.values()]
            ax_eng.bar(xs, ys, width, label=label)
        ax_eng.set_xticks(range(len(rows)), list(rows))
        ax_eng.set_yscale("log")
        ax_eng.set_ylabel("µs per inference (median, 1 thread)")
        ax_eng.set_title("Engine vs float and int8 runtimes")
        ax_eng.legend(fontsize="small")
    if "rpc" in results:
        rss = results["rpc"]["rss_mb"]
        calls = [i * rss["calls"] / (len(rss["samples"]) - 1) for i in range(len(rss["samples"]))]
        ax_rss.plot(calls, rss["samples"], marker="o")
        ax_rss.set_ylim(0, max(330, rss["max"] * 1.1))
        ax_rss.axhline(300, color="tab:red", ls="--", label="300 MB target")
        ax_rss.set_xlabel("modelInfer eth_calls")
        ax_rss.set_ylabel("node RSS (MB)")
        ax_rss.set_title(
            f"Node memory; modelInfer median {results['rpc']['model_infer_call_ms']['median']:.2f} ms"
        )
        ax_rss.legend()
    fig.suptitle(
        f"aievm bench — {results['machine']['cpu_model']}, {results['machine']['nproc']} cores, "
        f"{results['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict) -> str:
    """The results as Markdown tables (the generated part of docs/benchmarks.md)."""
    lines = [
        f"Run: {'quick' if results['quick'] else 'full'}, {results['date']}, {results['seconds']:.0f} s.",
        f"Machine: {machine_line(results['machine'])}.",
        "",
    ]
    for table in _tables(results):
        lines += [
            f"**{table.title}**",
            "",
            "| " + " | ".join(c.header for c in table.columns) + " |",
            "|" + "|".join("---" if c.justify == "left" else "---:" for c in table.columns) + "|",
        ]
        cells = [list(c.cells) for c in table.columns]
        for row in zip(*cells, strict=True):
            lines.append("| " + " | ".join(_plain(str(cell)) for cell in row) + " |")
        lines.append("")
    return "\n".join(lines)


def _plain(cell: str) -> str:
    for markup in ("[green]", "[red]", "[/]"):
        cell = cell.replace(markup, "")
    return cell


def _tables(results: dict) -> list[Table]:
    tables = []
    if "infer_gas" in results:
        tables.append(infer_gas_table(results["infer_gas"]))
    if "solidity_baseline" in results:
        tables.append(baseline_table(results["solidity_baseline"]))
    if "engine" in results:
        tables.append(engine_table(results["engine"]))
    if "rpc" in results:
        tables.append(rpc_table(results["rpc"]))
    if "opml" in results:
        tables.append(opml_table(results["opml"]))
    tables.append(targets_table(results["targets"]))
    return tables
