"""The notebooks' interactive panel: a few controls and a panel that a function of their values fills,
live in JupyterLab and a still picture of its default state everywhere else.

One panel, five notebooks: move a temperature and see fresh samples (00, 02), move a threshold and
see precision and recall (01), pick a prompt and a model (04), a task and a number of examples (06).

Why a snapshot: a widget is drawn by JavaScript in the browser from state that only a live kernel
(or a page that loads the widget manager from the network) has, so a saved notebook or an HTML page
would show nothing where the panel was. :class:`Panel` therefore offers, beside the widget view, an
``text/html`` (and ``text/plain``) rendering of the state it was displayed in. JupyterLab ranks the
widget view first and shows the live panel; the report's pages (:mod:`slmlab.pages`) drop the view
and show the snapshot, with a line saying the panel is interactive in JupyterLab.

The panel updates by widget state alone (an ``HTML`` widget, not an ``Output`` one), so it also
runs headless under papermill, where capturing into an ``Output`` widget can stall the run. This
module sits beside the package (as :mod:`slmlab.plots`): no technique module imports it.
"""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Callable

import ipywidgets

from . import _checks

__all__ = ["Panel", "slider", "choice", "printable", "SNAPSHOT_NOTE", "SNAPSHOT_CLASS"]

SNAPSHOT_NOTE = "A still of this panel at its default settings: run the notebook in JupyterLab to move the controls."
SNAPSHOT_CLASS = "slmlab-panel-snapshot"  # the pages and their browser test find snapshots by it

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text) -> str:
    """``text`` with control characters (other than newline and tab) shown as ``\\xNN`` escapes and
    other non-printing code points (zero-width, bidi marks) as ``\\uNNNN``: a sampled string can hold
    anything, and a raw escape character would garble the page or the terminal that shows it."""
    _checks.text("text", text)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cf", "Co", "Cn") else c for c in text)


def slider(value, low, high, step, description: str | None = None) -> ipywidgets.Widget:
    """A float slider (an int slider when all four numbers are ints) from ``low`` to ``high``."""
    numbers = (value, low, high, step)
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in numbers):
        raise ValueError(f"slider(value={value!r}, low={low!r}, high={high!r}, step={step!r}): all four must be numbers")
    if not low <= value <= high or step <= 0:
        raise ValueError(f"slider: need low <= value <= high and step > 0, got value={value}, low={low}, "
                         f"high={high}, step={step}")
    kind = ipywidgets.IntSlider if all(isinstance(x, int) for x in numbers) else ipywidgets.FloatSlider
    return kind(value=value, min=low, max=high, step=step, description=description or "",
                style={"description_width": "initial"})


def choice(options, value=None, description: str | None = None, slider: bool = False) -> ipywidgets.Widget:
    """A dropdown (or a selection slider) over ``options``: a list of values, or of ``(label, value)``
    pairs; ``value`` defaults to the first."""
    if isinstance(options, (str, bytes)) or not hasattr(options, "__iter__"):
        raise ValueError(f"options must be a list of values or (label, value) pairs, got {options!r}")
    options = list(options)
    if not options:
        raise ValueError("options is empty: give at least one value to choose from")
    values = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in options]
    if value is None:
        value = values[0]
    elif value not in values:
        raise ValueError(f"value={value!r} is not one of the options {values[:10]}")
    kind = ipywidgets.SelectionSlider if slider else ipywidgets.Dropdown
    return kind(options=options, value=value, description=description or "",
                style={"description_width": "initial"})


def _shown_value(control) -> str:
    """What a control shows for its current value (a dropdown's label, not its value)."""
    label = getattr(control, "label", None)
    if label is not None:
        return str(label)
    value = control.value
    return f"{value:g}" if isinstance(value, float) else str(value)


class Panel(ipywidgets.VBox):
    """Controls above a panel that ``render(**values)`` fills, keyed by the names the controls were
    given; it runs once at construction (the default state) and again whenever a control moves.

    ``render`` returns plain text, shown preformatted (escaped, control characters made visible by
    :func:`printable`). Display the panel as a cell's last expression or with ``display(panel)``.
    """

    def __init__(self, render: Callable[..., str], **controls):
        if not callable(render):
            raise ValueError(f"render must be a function of the controls' values, got {type(render).__name__}")
        if not controls:
            raise ValueError("give at least one control, e.g. Panel(render, temperature=slider(0.8, 0, 2, 0.1))")
        for name, control in controls.items():
            if not isinstance(control, ipywidgets.ValueWidget):
                raise ValueError(f"control {name}={control!r} is not an ipywidgets control with a value; "
                                 f"make one with slmlab.widgets.slider or choice")
            if not control.description:
                control.description = name.replace("_", " ")
        self.render, self.controls, self.text = render, dict(controls), ""
        self.body = ipywidgets.HTML()
        super().__init__([*controls.values(), self.body])
        self.update()
        for control in controls.values():
            control.observe(self.update, names="value")

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def update(self, _change=None) -> None:
        """Render the panel for the controls' current values."""
        out = self.render(**self.values)
        if not isinstance(out, str):
            raise ValueError(f"render returned {type(out).__name__}; it must return the panel's text (a str)")
        self.text = printable(out)
        self.body.value = f"<pre>{html.escape(self.text)}</pre>"

    def settings(self) -> str:
        """The controls' current settings in one line: ``temperature 0.8 · top-p 1``."""
        return " · ".join(f"{c.description} {_shown_value(c)}" for c in self.controls.values())

    def snapshot_html(self) -> str:
        """A static HTML rendering of the panel as it is now: its settings, its content, and a line
        saying where it is interactive."""
        return (f'<div class="{SNAPSHOT_CLASS}" style="border:1px solid #ccc;border-radius:4px;padding:.4em .8em">'
                f'<div style="color:#555">{html.escape(self.settings())}</div>{self.body.value}'
                f'<div style="color:#777;font-style:italic;font-size:90%">{html.escape(SNAPSHOT_NOTE)}</div></div>')

    def snapshot_text(self) -> str:
        return f"[{self.settings()}]\n{self.text}\n({SNAPSHOT_NOTE})"

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.snapshot_text()
        data["text/html"] = self.snapshot_html()
        return data
