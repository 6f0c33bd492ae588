"""slmlab.widgets: a panel that is live in JupyterLab and a still picture of its default state in a page."""
import pytest

from slmlab import widgets
from slmlab.pages import WIDGET_VIEW


def _panel():
    calls = []

    def render(temperature, top_p):
        calls.append((temperature, top_p))
        return f"T={temperature} p={top_p}\nsample <b>\x1b[31mred\x07"

    return widgets.Panel(render, temperature=widgets.slider(0.8, 0.0, 2.0, 0.1),
                         top_p=widgets.slider(1.0, 0.1, 1.0, 0.05, "top-p")), calls


def test_panel_renders_its_default_state_and_follows_the_controls():
    panel, calls = _panel()
    assert calls == [(0.8, 1.0)]  # rendered once at construction: the snapshot is of the defaults
    assert "T=0.8 p=1.0" in panel.body.value
    panel.controls["temperature"].value = 1.5
    assert calls[-1] == (1.5, 1.0) and "T=1.5" in panel.body.value
    assert panel.settings() == "temperature 1.5 · top-p 1"


def test_snapshot_beside_the_live_view():
    panel, _ = _panel()
    bundle = panel._repr_mimebundle_()
    assert WIDGET_VIEW in bundle  # JupyterLab ranks the view first and shows the live panel
    page = bundle["text/html"]
    assert widgets.SNAPSHOT_CLASS in page and widgets.SNAPSHOT_NOTE in page
    assert "temperature 0.8 · top-p 1" in page
    # the sample is escaped: no markup from it, and control characters shown, not sent
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert "\x1b" not in page and "\\x1b[31mred\\x07" in page
    text = bundle["text/plain"]
    assert text.startswith("[temperature 0.8 · top-p 1]") and "\x1b" not in text and "VBox(" not in text


def test_printable():
    assert widgets.printable("a\tb\nc\x00\x1b[0m\u200bd") == "a\tb\nc\\x00\\x1b[0m\\u200bd"
    assert widgets.printable("héllo ⏎ 23") == "héllo ⏎ 23"


def test_choice_shows_the_label_and_checks_its_value():
    panel = widgets.Panel(lambda task: task, task=widgets.choice([("Pick a colour", "colour"), ("A fruit", "fruit")]))
    assert panel.values == {"task": "colour"} and panel.settings() == "task Pick a colour"
    slid = widgets.choice([1, 2, 4], value=4, description="k examples", slider=True)
    assert slid.value == 4
    with pytest.raises(ValueError, match="not one of the options"):
        widgets.choice([1, 2], value=3)
    with pytest.raises(ValueError, match="list of values"):
        widgets.choice("abc")
    with pytest.raises(ValueError, match="empty"):
        widgets.choice([])


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="at least one control"):
        widgets.Panel(lambda: "x")
    with pytest.raises(ValueError, match="render must be a function"):
        widgets.Panel("x", t=widgets.slider(1, 0, 2, 1))
    with pytest.raises(ValueError, match="not an ipywidgets control"):
        widgets.Panel(lambda t: "x", t=0.5)
    with pytest.raises(ValueError, match="must return the panel's text"):
        widgets.Panel(lambda t: 3, t=widgets.slider(1, 0, 2, 1))
    with pytest.raises(ValueError, match="low <= value <= high"):
        widgets.slider(3.0, 0.0, 2.0, 0.1)
    with pytest.raises(ValueError, match="must be numbers"):
        widgets.slider("1", 0, 2, 1)
    assert type(widgets.slider(1, 0, 2, 1)).__name__ == "IntSlider"


def test_no_technique_module_imports_widgets_or_plots():
    """Layering (DESIGN.md): widgets and plots sit beside the package; only the modules beside it (the
    runner, its pages, front page and findings) and the notebooks use them."""
    from pathlib import Path
    import re
    root = Path(widgets.__file__).parent
    for path in root.glob("*.py"):
        if path.stem in ("widgets", "plots", "findings", "frontpage", "runner", "pages", "__main__"):
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(from \.(widgets|plots) import|from \. import[^\n]*\b(widgets|plots)\b|"
                             r"(from|import) slmlab\.(widgets|plots)\b|(from|import) ipywidgets\b)", text, re.MULTILINE), \
            f"{path.name} imports widgets/plots"
