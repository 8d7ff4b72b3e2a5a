"""Plain-text tables for the terminal: what the CLI prints from a report (it only presents, never computes)."""

from __future__ import annotations

import math

from amf.solve import kinds


def _number(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.3e}" if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4) else f"{x:.4g}"


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[_number(c) if not isinstance(c, str) else c for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


CARD_LINES = (
    ("loss", "loss L(f_V, f_L)", "loss", "loss_min"),
    ("loss_linear", "loss after the best linear maps", "loss_linear", "loss_min"),
    ("subspace_distance", "subspace distance to span(U_k)", "subspace_distance", None),
    ("constant_sine", "  constant direction u_1 (sin)", "constant_sine", None),
    ("class_sine", "  class directions u_2..u_k (sin)", "class_sine", None),
    ("principal_angles", "largest principal angle (deg)", "principal_angles", None),
    ("text_subspace_distance", "text side: distance to span(V_k)", "text_subspace_distance", None),
    ("probe_error_ls", "probe error E_LS", "probe_error_ls", "probe_error_optimal"),
    ("determined", "span(U_k) determined at k", "determined", None),
    ("bounds", "bound 2 phi / spectral_gap", None, None),
)
"""The card's lines: (reading key, label, model value key, optimum value key)."""


def format_card(report: dict) -> str:
    """The model card: one line per measure, the model's value, the optimum's, and the card's reading."""
    card = report["card"]
    rows = []
    for key, label, model, optimum in CARD_LINES:
        value = card[model] if model else card["bounds"]["rigorous_phi"]
        if key == "principal_angles":
            value = math.degrees(max(value)) if value else None
        if key == "determined":
            value = "yes" if value else "no"
        rows.append([label, value, card[optimum] if optimum else "", card["readings"][key]])
    minimizer = card["minimizer"]
    verdict = ("the Eckart-Young minimizer" if minimizer["passed"] else "NOT the Eckart-Young minimizer")
    return "\n".join([
        f"model card: the {report['solver']} encoders against the optimum of this graph at k = {report['k']}",
        table(["measure", "model", "optimum", "reading"], rows),
        f"verdict: {verdict} ({minimizer['rule']})",
    ])


def format_report(report: dict) -> str:
    """The model card (for encoders that did not come from an SVD), the graph's summary, and the checks: those
    that judge the encoders apart from those that judge the graph and its spectrum."""
    g = report["graph"]
    s = report["singular_values"]
    k = report["k"]
    head = (
        f"graph: {g['n_images']} images x {g['n_texts']} texts, {g['nnz']} edges, {g['n_components']} component(s); "
        f"solver {report['solver']} ({report['dtype']}), k = {k}, seed {report['seed']}\n"
        f"s_1..s_k = {', '.join(f'{x:.4f}' for x in s[:k])}; s_(k+1) = {s[k]:.4f}; "
        f"spectral_gap 1 - s_(k+1)^2 = {_number(report['spectral_gap'])}\n"
        f"loss at solution {report['loss_at_solution']:.10g}, minimum -sum s_i^2 = {report['loss_min']:.10g}"
    )
    b = report["bounds"]
    labels = (
        f"alpha = {_number(report['alpha'])}{_unlabeled(report)}, phi = {_number(report['phi'])}, "
        f"probe error E_LS = {_number(report['probe_error_ls'])}{_ambiguity(report)}\n"
        f"bounds on the optimum's E_LS = {_number(report['probe_error_optimal'])}: "
        f"2 phi/spectral_gap = {_number(b['rigorous_phi'])} [proved], "
        f"4 alpha/spectral_gap = {_number(b['rigorous_alpha'])} [proved], "
        f"paper form = {_number(b['paper_form'])} [paper-form, not confirmed]"
    )
    # a spectral solver's encoders are the SVD's own: their card says nothing the checks do not
    card = [] if report["solver"] in kinds("spectral") else [format_card(report), ""]
    sections = []
    for subject, title in (("encoders", "checks on the encoders"), ("graph", "checks on the graph and its spectrum")):
        names = report["check_subjects"][subject]
        rows = [[c["name"], c["value"], c["tolerance"], "PASS" if c["passed"] else "FAIL"]
                for c in report["checks"] if c["name"] in names]
        if rows:
            sections += [title, table(["check", "value", "tolerance", "verdict"], rows), ""]
    rows = [[c["name"], "skipped"] for c in report["skipped_checks"]]
    verdict = "all checks passed" if report["passed"] else "SOME CHECKS FAILED"
    skipped = [f"  skipped {c['name']}: {c['reason']}" for c in report["skipped_checks"]]
    return "\n".join([*card, head, labels, "", *sections[:-1], *skipped, verdict])


def _unlabeled(report: dict) -> str:
    n = report["graph"].get("unlabeled_texts")
    if not n or report["alpha"] is None:
        return ""
    return f" (over labeled texts; {n} text(s) unlabeled, so the alpha bounds do not apply)"


def _ambiguity(report: dict) -> str:
    d = report.get("subspace_determination")
    if not d or not d["ill_determined"]:
        return ""
    return (f" (ill-determined at this k: singular_gap s_k - s_(k+1) = {_number(d['singular_gap'])}; E_LS depends "
            "on the basis chosen inside the tied singular space and is not judged)")


def format_training(report: dict) -> str:
    """Summary of a gradient solver's report: the measures against the exact minimizer and the verdict."""
    g, c = report["graph"], report["certificate"]
    rows = [
        ["loss", report["loss_at_solution"]],
        ["loss_min (-sum s_i^2)", report["loss_min"]],
        ["loss gap (L - L_min) / sum_{2<=i<=k} s_i^2", report["loss_gap"]],
        ["subspace distance to span(U_k)", report["subspace_distance"]],
        ["probe error E_LS", report["probe_error_ls"]],
        ["probe error of the exact minimizer", report["probe_error_optimal"]],
        ["steps", c["iterations"]],
    ]
    verdict = {True: "converged", False: "NOT CONVERGED", None: "not judged (measures only)"}[report["passed"]]
    return "\n".join([
        f"graph: {g['n_images']} images x {g['n_texts']} texts, {g['nnz']} edges; solver {report['solver']} "
        f"({report['dtype']}), k = {report['k']}, seed {report['seed']}",
        table(["measure", "value"], rows),
        f"criterion: {c['criterion']}",
        verdict,
    ])


def format_experiment(result: dict, headline: tuple[str, ...]) -> str:
    """One line per setting of an experiment's ``results.json``: its params, checks passed over seeds, and the
    seed mean (± std with several seeds) of each ``headline`` metric."""
    rows = []
    for row in result["summary"]:
        params = ", ".join(f"{k}={_number(v) if not isinstance(v, str) else v}" for k, v in row["params"].items())
        judged = row["passed"] + row["failed"]
        cells = [params or "-", f"{row['passed']}/{judged}" if judged else "-"]
        for name in headline:
            m = row["metrics"].get(name)
            cells.append("-" if m is None else _number(m["mean"]) if m["n"] < 2 else
                         f"{_number(m['mean'])} ± {_number(m['std'])}")
        rows.append(cells)
    return table(["setting", "passed", *headline], rows)
