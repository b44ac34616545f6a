"""The README's claims that a test can check: the pages it lists (count and titles, from the lesson registry),
the upload limit (vae_core.engine.limits), the quick start's two commands, and the shipped data it credits."""

from __future__ import annotations

import re
from pathlib import Path

from ui.shell.lessons import LESSONS
from vae_core.engine import limits
from vae_core.engine.data_files import SOURCES, shipped_folder

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def test_the_page_count_is_the_lesson_registrys():
    [count] = re.findall(r"`streamlit run app\.py` opens (\w+) pages", README)
    assert count in NUMBER_WORDS, f"write the page count as a word: {count!r}"
    assert NUMBER_WORDS.index(count) == len(LESSONS)


def test_the_page_table_lists_every_lesson_by_its_title_in_order():
    table = section("The app").split("| page | what it teaches |\n| --- | --- |\n", 1)[1].split("\n\n", 1)[0]
    titles = [row.split(" | ", 1)[0].removeprefix("| ") for row in table.splitlines()]
    assert titles == [lesson.title for lesson in LESSONS.values()]


def test_every_upload_limit_the_readme_states_is_the_one_in_limits():
    stated = re.findall(r"(\d+) MB upload limit", README)
    assert stated, "the README states the upload limit"
    assert {int(mb) for mb in stated} == {limits.MAX_UPLOAD_MB}
    assert f"--server.maxUploadSize {limits.MAX_UPLOAD_MB}" in README


def test_the_quick_start_is_two_commands():
    quick = section("Quick start")
    blocks = re.findall(r"```bash\n(.*?)```", quick, flags=re.DOTALL)
    assert [block.strip() for block in blocks] == [
        "pip install -r requirements.txt && streamlit run app.py",
        "pip install -r requirements-dev.txt && python -m pytest -q",
    ]


def test_the_shipped_data_is_credited_with_its_licence():
    data = section("Data")
    assert "LeCun" in data and "Cortes" in data and "CC BY-SA 3.0" in data
    assert "Zalando" in data and "MIT" in data
    assert f"download, {SOURCES['mnist'].download_mb('train')} MB" in data  # the button's words, as quoted
    assert all((shipped_folder(name) / "LICENCE.txt").is_file() for name in SOURCES)
