"""Screenshots of a run's report.html in headless Chromium, as committed under docs/figures.

    python -m benchmarks.report_screenshot RUN_DIR OUT_PREFIX

writes ``OUT_PREFIX_explorer.png`` (the latent-space explorer, the pointer over the plane and one
test image clicked) and ``OUT_PREFIX_page.png`` (the whole page at 1280 px wide). Needs Debian's
``chromium`` and ``chromium-driver`` and ``pip install 'vaekit[browser]'``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser(width: int, height: int):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def open_report(driver, report: Path) -> None:
    driver.get(report.resolve().as_uri())
    WebDriverWait(driver, 20).until(
        lambda b: b.execute_script("return window.vaekitExplorer.state.ready")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_prefix")
    parser.add_argument("--point", type=int, default=0, help="the test image to click")
    args = parser.parse_args()
    report = args.run_dir / "report.html"

    driver = browser(1280, 900)
    try:
        open_report(driver, report)
        driver.execute_script("document.getElementById('explorer').scrollIntoView()")
        scatter = driver.find_element(By.ID, "scatter")
        x, y = driver.execute_script(f"return window.vaekitExplorer.pointPosition({args.point})")
        width, height = scatter.size["width"], scatter.size["height"]
        ActionChains(driver).move_to_element_with_offset(
            scatter, round(x - width / 2), round(y - height / 2)
        ).click().perform()
        offset = (width // 5, -height // 6)  # up and right of the centre: another image decoded
        ActionChains(driver).move_to_element_with_offset(scatter, *offset).perform()
        driver.save_screenshot(f"{args.out_prefix}_explorer.png")
    finally:
        driver.quit()

    driver = browser(1280, 900)
    try:
        open_report(driver, report)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, height + 100)
        driver.save_screenshot(f"{args.out_prefix}_page.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
