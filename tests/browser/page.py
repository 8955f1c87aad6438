"""A notebook open in JupyterLab in headless Chromium, read and clicked as a person would.

Every wait is for something the page shows, with a deadline; a wait that runs out fails
naming what it waited for and what the page showed, and leaves a screenshot.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
)  # fmt: skip

# Records every width the progress bar takes, however fast the kernel moves it: changes
# made in one task reach the observer as one batch, each record holding the value before
# it, so the values in between are the later records' old values.
WATCH_BAR = """
const bar = document.querySelector('.widget-hprogress .progress-bar');
const width = (style) => parseFloat((/(?:^|;)\\s*width:\\s*([\\d.]+)%/.exec(style || '') || [])[1]);
window.opslibBarWidths = [];
new MutationObserver((records) => {
    for (const record of records.slice(1)) window.opslibBarWidths.push(width(record.oldValue));
    window.opslibBarWidths.push(width(bar.getAttribute('style')));
}).observe(bar, {attributes: true, attributeFilter: ['style'], attributeOldValue: true});
"""


def find_browser() -> tuple[str, str] | None:
    """Debian's chromium and its driver (``make setup`` installs them), or None."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def open_browser(chromium: str, chromedriver: str, work: Path) -> webdriver.Chrome:
    """Headless Chromium with a new empty profile, driven through Debian's chromedriver."""
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={work / 'profile'}")
    service = Service(executable_path=chromedriver, log_output=str(work / "chromedriver.log"))
    return webdriver.Chrome(options=options, service=service)


@dataclass
class NotebookPage:
    """One notebook in JupyterLab; ``shots`` is where failure screenshots go."""

    driver: webdriver.Chrome
    shots: Path
    diagnose: Callable[[], str] = lambda: ""

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float) -> Any:
        """Poll ``condition`` until it is truthy; fail naming ``what`` at the deadline."""

        def check(_: Any) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:
                return False  # the page re-rendered between finding and reading

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(check)
        except TimeoutException:
            shot = self.screenshot(re.sub(r"\W+", "-", what)[:60])
            raise AssertionError(
                f"waited {timeout:.0f} s for {what}; screenshot {shot}\n"
                f"widget output:\n{self.widget_output()}\n{self.diagnose()}"
            ) from None

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    # -- JupyterLab ---------------------------------------------------------------------

    def open(self, url: str, timeout: float) -> None:
        """Load the notebook and wait until its kernel has started and is idle."""
        self.driver.get(url)
        self.wait_for("the notebook's kernel to be idle", self.kernel_idle, timeout)

    def kernel_idle(self) -> bool:
        names = [e.text for e in self._all(".jp-NotebookPanel-toolbar .jp-KernelName")]
        indicators = self._all(".jp-Notebook-ExecutionIndicator")
        states = [e.get_attribute("data-status") for e in indicators]
        return names == ["Python 3 (ipykernel)"] and states == ["idle"]

    def menu(self, menu: str, item: str) -> None:
        """Click a main menu, then one of its items, by their labels."""
        self._one(f"//li[contains(@class,'lm-MenuBar-item')][.//div[text()='{menu}']]").click()
        entry = (
            "//li[contains(@class,'lm-Menu-item')]"
            f"[.//div[contains(@class,'lm-Menu-itemLabel')][text()='{item}']]"
        )
        self.wait_for(f"menu item {menu} > {item}", lambda: self._xpath(entry), 30)
        self._one(entry).click()

    def outputs(self) -> list[str]:
        """The text of every cell's outputs (not their sources), in order."""
        return [e.text for e in self._all(".jp-Notebook .jp-Cell-outputArea")]

    def failed_cell(self) -> bool:
        """Whether a cell's output shows a traceback (Run All stops there)."""
        return any("Traceback (most recent call last)" in text for text in self.outputs())

    def code_cells_run(self) -> bool:
        """Whether every code cell shows an execution count (``[n]:``)."""
        prompts = [e.text for e in self._all(".jp-CodeCell .jp-InputArea-prompt")]
        return bool(prompts) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)

    # -- the walkthrough's widgets --------------------------------------------------------

    def click(self, button: str) -> None:
        self._one(
            f"//button[contains(@class,'widget-button')][normalize-space()='{button}']"
        ).click()

    def field(self, label: str) -> WebElement:
        """The input of a text/number widget, by its label."""
        return self._one(
            "//div[contains(@class,'widget-inline-hbox')]"
            f"[label[normalize-space()='{label}']]//*[self::input or self::select]"
        )

    def type_into(self, label: str, text: str) -> None:
        box = self.field(label)
        box.clear()
        box.send_keys(text)

    def widget_output(self) -> str:
        """What the walkthrough's Output widget shows."""
        found = self._all(".widget-output")
        return found[0].text if found else "(no output widget)"

    def widget_lines(self) -> list[str]:
        return [line for line in self.widget_output().splitlines() if line.strip()]

    def widget_table(self) -> list[dict[str, str]]:
        """The table in the Output widget, as rows of column -> cell text."""
        table = self._all(".widget-output table")
        if not table:
            return []
        head = [th.text for th in table[0].find_elements(By.CSS_SELECTOR, "thead th")][1:]
        rows = table[0].find_elements(By.CSS_SELECTOR, "tbody tr")
        cells = [[td.text for td in row.find_elements(By.CSS_SELECTOR, "td")] for row in rows]
        return [dict(zip(head, row, strict=True)) for row in cells]

    def bar_percent(self) -> float:
        """How full the progress bar is, in percent of its width."""
        style = self._one("//div[contains(@class,'widget-hprogress')]//div[@class='progress-bar']")
        return _percent(style.get_attribute("style") or "")

    def watch_bar(self) -> None:
        self.driver.execute_script(WATCH_BAR)

    def bar_history(self) -> list[float]:
        """Every width the bar took since :meth:`watch_bar`, in percent."""
        widths = self.driver.execute_script("return window.opslibBarWidths;") or []
        return [float(w) for w in widths]

    # -- finding ----------------------------------------------------------------------

    def _all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def _xpath(self, xpath: str) -> list[WebElement]:
        return self.driver.find_elements(By.XPATH, xpath)

    def _one(self, xpath: str) -> WebElement:
        found = self._xpath(xpath)
        assert len(found) == 1, f"expected one element {xpath}, found {len(found)}"
        return found[0]


def _percent(style: str) -> float:
    match = re.search(r"(?<![-\w])width:\s*([\d.]+)%", style)
    assert match, f"no width in the progress bar's style {style!r}"
    return float(match.group(1))
