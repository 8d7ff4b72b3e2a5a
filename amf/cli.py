"""The ``amf`` command line: demo, generate, verify, solve, experiment, run, figures, bench, graph
(docs/file-format.md, docs/experiments.md).

Exit status: 0 when everything ran and every check passed; 1 when a check failed; 2 for bad input or usage
(one line on stderr, no traceback, nothing written).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
from pathlib import Path

import jax
import numpy as np

import synthetic
from amf._format import format_experiment, format_report, format_training
from amf.checks import EMBEDDING_TOL, MINIMIZER_TOL
from amf.errors import InputError
from amf.experiments import EXPERIMENTS
from amf.experiments.config import SEED_MAX, read_toml
from amf.experiments.demo import DEMO_MODEL, DEMO_PARAMS
from amf.experiments.demo import demo as run_demo
from amf.experiments.runner import execute
from figures import BENCH_RESULTS
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.io import (atomic_folder, check_output_file, check_output_folder, read_embeddings, write_json,
                    write_npz)
from amf.report import training_report, verify
from amf.pairs import MISSING_LABEL, ids_path, read_pairs, write_pairs_graph
from amf.provenance import Provenance, environment
from amf import _validate
from amf.solve import SOLVERS, kinds, solve



class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``amf CMD: error: MESSAGE (see amf CMD --help)``, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"seed must be an integer in [0, {SEED_MAX}], got {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _at_least(minimum: int):
    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="amf", description="Multi-modal contrastive learning as asymmetric matrix factorization, verified."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser("demo", help="build the default graph, solve, verify every check, write a figure")
    demo.add_argument("--out", default="amf-out/demo", help="output folder, replaced whole (default: %(default)s)")
    demo.add_argument("--force", action="store_true", help="replace an --out folder that amf did not write")
    demo.add_argument("--seed", type=_seed, default=0, help="the run's one seed (default: %(default)s)")
    demo.add_argument("--k", type=int, default=DEMO_PARAMS["n_classes"],
                      help="embedding dimension (default: %(default)s)")
    demo.set_defaults(handler=_demo)

    gen = sub.add_parser("generate", help="write a synthetic graph file (.npz)")
    gen.add_argument("model", help="model name (see --list)", nargs="?")
    gen.add_argument("--out", help="output .npz path")
    gen.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model parameter (repeatable)")
    gen.add_argument("--seed", type=_seed, default=0, help="the generator's seed (default: %(default)s)")
    gen.add_argument("--list", action="store_true", help="list the models and their parameters")
    gen.set_defaults(handler=_generate)

    ver = sub.add_parser("verify", help="run every theory check on a graph; print a table; write the report")
    _graph_args(ver)
    ver.add_argument("--json", help="write the report (JSON) here")
    ver.add_argument("--solver", choices=kinds("spectral"), default="exact", help=_solver_help(kinds("spectral")))
    ver.add_argument("--dense-limit", type=_at_least(0), default=None,
                     help=f"largest max(N_V, N_L)^2 for the dense checks (default: {DENSE_LIMIT})")
    ver.add_argument("--embeddings", metavar="E.npz",
                     help="judge these encoders (keys f_images (N_V, K), f_texts (N_L, K), e.g. from any trainer) "
                          "instead of the solver's; the solver then computes only the reference spectrum")
    ver.add_argument("--embedding-tolerance", type=_positive, default=EMBEDDING_TOL,
                     help=f"loss-gap tolerance, (L - L_min) / sum_(2<=i<=k) s_i^2, of the minimizer verdict on given "
                          f"embeddings (default {EMBEDDING_TOL:g}, gd's; the subspace distance is held to "
                          f"{MINIMIZER_TOL['subspace_distance']:g})")
    ver.set_defaults(handler=_verify)

    solve = sub.add_parser("solve", help="factorize with one solver; write embeddings, curve and a report")
    _graph_args(solve)
    solve.add_argument("--solver", choices=tuple(SOLVERS), default="exact", help=_solver_help(tuple(SOLVERS)))
    solve.add_argument("--out", default="amf-out/solve", help="output folder, replaced whole (default: %(default)s)")
    solve.add_argument("--force", action="store_true", help="replace an --out folder that amf did not write")
    _solver_options(solve)
    solve.set_defaults(handler=_solve)
    bench = sub.add_parser(
        "bench", help="run a benchmark from the checkout's benchmarks/ folder (peers timed in the same run)"
    )
    bench.add_argument("name", help="benchmark name: bench_NAME.py in benchmarks/ (e.g. spectral, sgd, generate)")
    bench.add_argument("options", nargs=argparse.REMAINDER, help="passed to the benchmark (see its --help)")
    bench.set_defaults(handler=_bench)

    graph_cmd = sub.add_parser("graph", help="build graph files from data")
    graph_sub = graph_cmd.add_subparsers(dest="graph_command", required=True, metavar="ACTION", parser_class=_Parser)
    pairs = graph_sub.add_parser("from-pairs", help="an image-text pair list (.csv, .tsv, .jsonl) as a graph file, "
                                                    "plus the id-to-index mapping beside it (G.ids.json)")
    pairs.add_argument("pairs", help="the pair list: .csv or .tsv with a header line, or .jsonl")
    pairs.add_argument("--out", required=True, help="the graph file to write (.npz)")
    pairs.add_argument("--image-col", default="image", help="column of the image ids (default: %(default)s)")
    pairs.add_argument("--text-col", default="text", help="column of the text ids (default: %(default)s)")
    pairs.add_argument("--weight-col", help="column of the pair weights (default: every line counts 1)")
    pairs.add_argument("--image-label-col", help="column of the image labels (default: none)")
    pairs.add_argument("--text-label-col", help="column of the text labels, empty = unknown (default: none)")
    pairs.add_argument("--missing-label", choices=MISSING_LABEL, default="error",
                       help="an image without a label: refuse the file (error), drop the image with its pairs and "
                            "the texts left without one (drop), or give such images a class of their own, null in "
                            "G.ids.json (unknown) (default: %(default)s)")
    pairs.set_defaults(handler=_from_pairs)

    exp = sub.add_parser("experiment", help="run one claim of the paper as a multi-seed, resumable experiment "
                                            "('amf experiment list' lists them)")
    exp.add_argument("name", help="experiment name, or 'list'")
    _run_args(exp)
    exp.add_argument("--quick", action="store_true", help="the quick preset: small graphs, few seeds, seconds")
    exp.add_argument("--seed", type=_seed, help="first run seed (default: the preset's seeds)")
    exp.add_argument("--seeds", type=_at_least(1), help="number of seeds: --seed S --seeds N runs S .. S+N-1")
    exp.set_defaults(handler=_experiment)

    run = sub.add_parser("run", help="run an experiment from a TOML config (see configs/)")
    run.add_argument("config", help="the config file (.toml): experiment = NAME, quick, seeds, [config]")
    _run_args(run)
    run.set_defaults(handler=_run_config)

    figs = sub.add_parser("figures", help="draw the figures from saved experiment results (computing only what is "
                                          "missing) and write DIR/manifest.json")
    figs.add_argument("--only", nargs="+", metavar="NAME", default=[], help="these figures only (default: all)")
    figs.add_argument("--quick", action="store_true", help="the experiments' quick presets (seconds each)")
    figs.add_argument("--out", default="amf-out/figures", help="output folder (default: %(default)s)")
    figs.add_argument("--format", default="png,pdf", help="comma-separated png, pdf, svg (default: %(default)s)")
    figs.add_argument("--dpi", type=_at_least(20), default=150, help="raster resolution (default: %(default)s)")
    redo = figs.add_mutually_exclusive_group()
    redo.add_argument("--replot", action="store_true", help="never compute: draw from saved results only")
    redo.add_argument("--recompute", action="store_true", help="recompute every experiment drawn")
    figs.add_argument("--bench", default=BENCH_RESULTS, help="benchmark rows for the scale figure "
                                                              "(default: %(default)s)")
    figs.set_defaults(handler=_figures)
    return parser


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config value, a TOML value; a list sweeps the key (e.g. --set 'noise=[0.1, 0.2]')")
    p.add_argument("--out", help="run folder (default: runs/<date>-<experiment>-<n>/, resumed when it holds the "
                                 "same config)")
    p.add_argument("--force", action="store_true", help="use an --out folder that amf did not write")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _positive(text: str) -> float:
    value = _number(text)
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _solver_help(names: tuple[str, ...]) -> str:
    return "; ".join(f"{name}: {SOLVERS[name].summary}" for name in names) + " (default: exact)"


def _options() -> dict[str, tuple[dataclasses.Field, list[str]]]:
    """Every option a command-line flag offers: its declaration and the solvers that take it (registry order)."""
    options: dict[str, tuple[dataclasses.Field, list[str]]] = {}
    for name, entry in SOLVERS.items():
        for option, field in entry.options.items():
            if field.metadata["cli"]:
                options.setdefault(option, (field, []))[1].append(name)
    return options


def _solver_options(p: argparse.ArgumentParser) -> None:
    """One flag per declared option, its help and defaults read from the declarations (amf.solve.SOLVERS)."""
    group = p.add_argument_group("solver options (each solver refuses the options it does not take)")
    for name, (field, solvers) in _options().items():
        per_solver = [f"{s} {SOLVERS[s].defaults[name]}" for s in solvers if name in SOLVERS[s].defaults]
        text = _validate.describe(field, "per solver: " + ", ".join(per_solver) if per_solver else None)
        kind = field.metadata["kind"]
        flag = {"action": argparse.BooleanOptionalAction} if kind is bool else {
            "type": {int: _integer, float: _number}.get(kind, str), "choices": field.metadata["choices"] or None}
        p_help = f"{text}; {', '.join(solvers)} only" if len(solvers) < len(SOLVERS) else text
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=p_help.replace("%", "%%"),
                           **flag)


def _graph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="graph file (.npz)")
    p.add_argument("--k", type=int, required=True, help="embedding dimension")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                   help="the solver's floating type (default: %(default)s)")
    p.add_argument("--seed", type=_seed, default=0, help="the run's one seed (default: %(default)s)")
    p.add_argument("--drop-isolated", action="store_true", help="drop images/texts without edges instead of failing")
    many = p.add_argument_group("many devices and hosts (krylov solver)")
    many.add_argument("--devices", type=_at_least(1),
                      help="shard the solve over N devices (on a CPU: N fake CPU devices)")
    many.add_argument("--coordinator", help="HOST:PORT of process 0, to join a multi-host run (jax.distributed)")
    many.add_argument("--num-processes", type=_at_least(1), help="processes in the multi-host run")
    many.add_argument("--process-id", type=_at_least(0), help="this process's index, 0 .. num-processes - 1")


def _load(args):
    graph = CoOccurrence.load(args.graph, drop_isolated=args.drop_isolated)
    if args.drop_isolated:
        print(f"dropped {graph.dropped[0]} isolated image(s) and {graph.dropped[1]} isolated text(s)")
    return graph


def _generate(args) -> int:
    provenance = Provenance.start(command=args.argv)
    if args.out:
        check_output_file(args.out)
    if args.list:
        for model in synthetic.MODELS.values():
            params = ", ".join(f"{k}={v}" for k, v in model.defaults.items())
            print(f"{model.name}: {model.description}\n    {params}")
        return 0
    if not args.model or not args.out:
        raise _Usage("generate needs MODEL and --out (or --list)")
    edges = synthetic.generate(args.model, seed=args.seed, **dict(_validate.parse_set(item) for item in args.set))
    graph = CoOccurrence.from_edges(edges)
    graph.save(args.out, metadata={"model": edges.model, "params": edges.params, "seed": args.seed,
                                   "provenance": {**provenance.as_dict(), **environment(args.seed, "float64")}})
    print(f"wrote {args.out}: {graph}")
    return 0


def _from_pairs(args) -> int:
    out = check_output_file(args.out, inputs=[args.pairs])
    check_output_file(ids_path(out), inputs=[args.pairs])
    pairs = read_pairs(args.pairs, image_col=args.image_col, text_col=args.text_col, weight_col=args.weight_col,
                       image_label_col=args.image_label_col, text_label_col=args.text_label_col,
                       missing_label=args.missing_label)
    mapping = write_pairs_graph(pairs, out)
    if pairs.unlabeled_images:
        done = (f"dropped them with {pairs.dropped[1]} text(s) left without a pair" if args.missing_label == "drop"
                else "gave them the class null (unknown)")
        print(f"{pairs.unlabeled_images} image(s) had no label: {done}")
    print(f"read {pairs.lines} lines: {pairs.shape[0]} images x {pairs.shape[1]} texts, {pairs.nnz} distinct pairs; "
          f"wrote {out} and {mapping}")
    return 0


def _verify(args) -> int:
    provenance = Provenance.start([args.graph, args.embeddings], command=args.argv)
    if args.json:
        check_output_file(args.json, inputs=[args.graph] + ([args.embeddings] if args.embeddings else []))
    graph = _load(args)
    embeddings = None if args.embeddings is None else read_embeddings(args.embeddings)
    report, _ = verify(
        graph,
        args.k,
        solver=args.solver,
        dtype=args.dtype,
        seed=args.seed,
        dense_limit=DENSE_LIMIT if args.dense_limit is None else args.dense_limit,
        devices=args.devices,
        embeddings=embeddings,
        embedding_tolerance=args.embedding_tolerance,
    )
    report["provenance"] = provenance.as_dict()
    if _is_lead():
        print(format_report(report))
        if args.json:
            write_json(args.json, report)
            print(f"report written to {args.json}")
    return 0 if report["passed"] else 1


def _solve(args) -> int:
    entry = SOLVERS[args.solver]
    options = {name: getattr(args, name) for name in _options() if getattr(args, name) is not None}
    used = entry.settings(**options)  # refuses an option the solver does not take, before any work
    provenance = Provenance.start([args.graph], command=args.argv)
    out = check_output_folder(args.out, force=args.force)
    graph = _load(args)
    if entry.kind == "spectral":
        report, solution = verify(
            graph, args.k, solver=args.solver, dtype=args.dtype, seed=args.seed, devices=args.devices
        )
        text = format_report(report)
    else:
        solution = solve(graph, args.k, solver=args.solver, dtype=args.dtype, seed=args.seed, **options)
        settings = {"solver": args.solver, "k": args.k, "dtype": args.dtype, "seed": args.seed, **used}
        report = training_report(graph, solution, seed=args.seed, settings=settings)
        text = format_training(report)
    report["provenance"] = provenance.as_dict()
    if _is_lead():
        _write_results(out, report, solution)
        print(text)
        print(f"results written to {out}/")
    return 1 if report["passed"] is False else 0  # None: a solver no criterion judges (infonce) ran


def _write_results(out: Path, report: dict, solution, extra=None) -> None:
    """Write the results into a fresh folder that replaces ``out`` whole; ``extra(folder)`` adds more files."""
    with atomic_folder(out) as folder:
        write_npz(folder / "embeddings.npz", f_images=np.asarray(solution.f_images),
                  f_texts=np.asarray(solution.f_texts))
        if solution.curve is not None:
            write_npz(folder / "curve.npz", **{name: np.asarray(v) for name, v in solution.curve.items()})
        write_json(folder / "report.json", report)
        if extra is not None:
            extra(folder)


def _demo(args) -> int:
    from figures import demo as demo_figure  # matplotlib loads only for the commands that draw
    from figures.style import save

    provenance = Provenance.start(command=args.argv)
    out = check_output_folder(args.out, force=args.force)
    print(f"default graph: {DEMO_MODEL} model {DEMO_PARAMS}, seed {args.seed}")
    result = run_demo(seed=args.seed, k=args.k)
    report = result.report
    report["provenance"] = provenance.as_dict()

    def graph_and_figure(folder: Path) -> None:
        result.graph.save(folder / "graph.npz", metadata={"model": DEMO_MODEL, "params": DEMO_PARAMS,
                                                          "seed": args.seed, "provenance": report["provenance"]})
        save(demo_figure.draw(report, {}), folder / "spectrum", ("png",), dpi=100)

    _write_results(out, report, result.solution, extra=graph_and_figure)
    print(format_report(report))
    print("\ngradient descent on the population loss, against the exact minimizer:")
    print(format_training(report["gradient_descent"]))
    print(f"results written to {out}/ (report.json, embeddings.npz, graph.npz, spectrum.png)")
    return 0 if report["passed"] else 1


def _bench(args) -> int:
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    available = sorted(p.stem.removeprefix("bench_") for p in folder.glob("bench_*.py"))
    if not available:
        raise _Usage(f"no benchmarks found in {folder}: amf bench runs from a source checkout")
    if args.name not in available:
        raise _validate.unknown("benchmark", args.name, available)
    spec = importlib.util.spec_from_file_location(f"bench_{args.name}", folder / f"bench_{args.name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(args.options)


def _experiment(args) -> int:
    if args.name == "list":
        width = max(map(len, EXPERIMENTS))
        for e in EXPERIMENTS.values():
            print(f"{e.name:<{width}}  --quick ~{e.quick_seconds:>3.0f} s  {e.claim}")
        return 0
    experiment = _lookup(args.name)
    values = dict(_validate.parse_set(item) for item in args.set)
    seeds = None
    if args.seed is not None or args.seeds is not None:
        count = args.seeds or len(experiment.make_config(quick=args.quick).seeds)
        first = args.seed or 0
        if first + count - 1 > SEED_MAX:
            raise _Usage(f"--seed {first} --seeds {count} runs past the largest seed {SEED_MAX}")
        seeds = list(range(first, first + count))
    config = experiment.make_config(quick=args.quick, values=values, seeds=seeds)
    return _execute(experiment, config, args, inputs=())


def _run_config(args) -> int:
    data = read_toml(args.config)
    experiment = _lookup(data["experiment"])
    values = {**data.get("config", {}), **dict(_validate.parse_set(item) for item in args.set)}
    config = experiment.make_config(quick=data.get("quick", False), values=values, seeds=data.get("seeds"))
    return _execute(experiment, config, args, inputs=(args.config,))


def _lookup(name: str):
    if name not in EXPERIMENTS:
        raise _validate.unknown("experiment", name, [*EXPERIMENTS, "list"])
    return EXPERIMENTS[name]


def _execute(experiment, config, args, *, inputs) -> int:
    try:
        result, folder = execute(experiment, config, out=args.out, force=args.force, inputs=inputs,
                                 command=args.argv)
    except KeyboardInterrupt:
        print(f"amf {args.command}: interrupted; the points finished so far are saved: rerun the same command "
              "to resume", file=sys.stderr)
        return 130
    print(format_experiment(result.as_dict(), experiment.headline))
    print(f"{len(result.points)} points: {result.computed} computed, {result.reused} reused; results in {folder}/")
    return 0 if result.passed else 1


def _figures(args) -> int:
    from figures.build import check_formats, make  # the figures package (matplotlib) loads only to draw

    formats = check_formats(args.format)
    out = check_output_folder(args.out, force=False)
    drawn = make(args.only, quick=args.quick, out=out, formats=formats, dpi=args.dpi, replot=args.replot,
                 recompute=args.recompute, bench=args.bench)
    failed = [f"{d.entry['name']} ({d.entry['failed_points']})" for d in drawn if d.entry["failed_points"]]
    print(f"{len(drawn)} figure(s) in {out}/ (manifest.json lists them)")
    if failed:
        print(f"points whose checks failed, drawn as measured: {', '.join(failed)}")
    return 1 if failed else 0


def _is_lead() -> bool:
    """Only process 0 of a multi-host run prints and writes."""
    return jax.process_index() == 0


def _start_devices(args) -> None:
    """Before JAX starts its backends: fake ``--devices`` CPU devices (used only when JAX runs on the CPU) and
    join a multi-host run when ``--coordinator`` is given (gloo collectives between CPU processes)."""
    multihost = (args.coordinator, args.num_processes, args.process_id)
    sharded = [name for name, entry in SOLVERS.items() if "devices" in entry.options]  # solvers that shard
    if (any(x is not None for x in multihost) or args.devices is not None) and args.solver not in sharded:
        raise _Usage(f"--devices and multi-host runs need a solver that shards: --solver {' or '.join(sharded)}")
    if any(x is not None for x in multihost):
        if any(x is None for x in multihost):
            raise _Usage("a multi-host run needs --coordinator, --num-processes and --process-id together")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        if args.devices is not None:
            jax.config.update("jax_num_cpu_devices", args.devices // args.num_processes or 1)
        jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)
    elif args.devices is not None:
        jax.config.update("jax_num_cpu_devices", args.devices)


class _Usage(Exception):
    """Bad usage: reported like bad input (exit status 2)."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.argv = ["amf", *(sys.argv[1:] if argv is None else argv)]  # the provenance's command line
    try:
        if hasattr(args, "devices"):
            _start_devices(args)
        return args.handler(args)
    except (InputError, _Usage) as exc:
        message = " ".join(str(exc).split())  # one line, whatever a message quotes
        print(f"amf {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder that turned read-only: outputs are atomic, nothing half-written
        if isinstance(exc, BrokenPipeError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the reader closed the pipe: stop quietly)
            return 0
        where = f" {exc.filename}" if exc.filename else ""
        print(f"amf {args.command}: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outputs are atomic: nothing half-written stays behind
        print(f"amf {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
