#!/usr/bin/env python3
"""The web app in a real browser: Debian's headless Chromium, driven through chromedriver by
Selenium, against the built `forensight serve` with two tiny checkpoints made here (a ResNet18 and a
ViT, two optimiser steps each on 16 synthetic images).

It analyses one image and checks the rendered verdict, confidence and time against the API's own
answer and the comparison chart's data; runs a batch of several files and checks the progress bar
and the results table; then downloads the CSV, the JSON and the PDF report (Chrome's download
folder is a temporary one) and checks their contents, the PDF's through poppler's pdftotext. Any
error the page logs to the console fails it. It saves a screenshot of the single-image view.

Registered with ctest from tests/CMakeLists.txt (label integration); runs in well under 60 s.
  browser_test.py --forensight build/forensight [--screenshot docs/img/webapp.png] [--single IMG]
  browser_test.py --url http://127.0.0.1:8080 --images DIR   # a server already running
Exits 77 (ctest's skip) when Chromium, chromedriver, Selenium or pdftotext is missing.
"""
import argparse
import csv
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SKIP = 77
WAIT_S = 20  # for any one thing the page should do


def log(message):
    print(f"[browser_test {time.monotonic() - START:5.1f}s] {message}", flush=True)


START = time.monotonic()


def skip_if_missing():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if not os.access(path, os.X_OK)]
    if not shutil.which("pdftotext"):
        missing.append("pdftotext (poppler-utils)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append(f"selenium for {sys.executable}")
    if missing:
        print(f"SKIP: {', '.join(missing)} not installed (scripts/bootstrap.sh installs them)")
        sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, timeout_s=60):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout


def make_checkpoints(binary, work):
    """16 synthetic 48 px images, and a ResNet18 and a ViT trained two steps on them, in parallel."""
    data = os.path.join(work, "data")
    run([binary, "data", "synth", "--out", data, "--count", "16", "--size", "48",
         "--fit-steps", "10"])
    common = ["--data", data, "--image-size", "32", "--batch-size", "4", "--max-steps", "2",
              "--split", "1.0", "--workers", "0", "--threads", "1"]
    runs = {"resnet18": os.path.join(work, "resnet18"), "vit-tiny": os.path.join(work, "vit")}
    procs = [subprocess.Popen([binary, "train", "--model", model, "--out", out, *common],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for model, out in runs.items()]
    for proc in procs:
        output, _ = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(proc.args)} failed:\n{output[-3000:]}")
    checkpoints = [os.path.join(out, "checkpoints", "last.pt") for out in runs.values()]
    images = sorted(glob.glob(os.path.join(data, "*", "*.jpg")))
    return checkpoints, images


def http_get(url, timeout_s=5):
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.status, response.read()


def http_post(url, body, content_type, timeout_s=20):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return response.read()


def start_server(binary, checkpoints, work):
    port = free_port()
    log_path = os.path.join(work, "serve.log")
    argv = [binary, "serve", "--port", str(port)]
    for checkpoint in checkpoints:
        argv += ["--checkpoint", checkpoint]
    server = subprocess.Popen(argv, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"forensight serve exited ({server.returncode}):\n"
                                 f"{open(log_path).read()[-3000:]}")
        try:
            # Ready: every model loaded and warmed up (/readyz answers 503 until then).
            if http_get(url + "/readyz", timeout_s=1)[0] == 200:
                return server, url, log_path
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    stop_server(server)
    raise AssertionError(f"forensight serve did not answer on {url} within 30 s:\n"
                         f"{open(log_path).read()[-3000:]}")


def stop_server(server):
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def make_driver(download_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-sync"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": download_dir,
        "download.prompt_for_download": False,
        "download.directory_upgrade": True,
        "profile.default_content_setting_values.automatic_downloads": 1,
    })
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": download_dir})
    return driver


def wait_for(what, condition, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def wait_for_download(folder, name):
    path = os.path.join(folder, name)
    wait_for(f"the download {name} in {folder} (has {os.listdir(folder)})",
             lambda: os.path.exists(path) and not os.path.exists(path + ".crdownload")
             and os.path.getsize(path) > 0)
    return path


def summarize(answer):
    """(label "real"|"ai-generated", P(AI), [each model's P(AI)]) of a /v1/detect answer: each
    model's answer is under "models" (P(AI) as "probability_fake"), their mean under "mean" when
    there are several."""
    results = answer["models"]
    p_models = [r["probability_fake"] for r in results]
    if "mean" in answer:
        return answer["mean"]["label_name"], answer["mean"]["probability_fake"], p_models
    return results[0]["label_name"], p_models[0], p_models


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def console_errors(driver):
    """SEVERE console entries, but the one the refused upload causes on purpose (a 4xx answer)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
            and not re.search(r"/v1/detect - Failed to load resource: .* status of 4\d\d",
                              entry["message"])]


def test_refused_upload(driver, work):
    """A file that is not an image: the server refuses it and the page shows why."""
    from selenium.webdriver.common.by import By

    by_id = lambda name: driver.find_element(By.ID, name)  # noqa: E731
    bogus = os.path.join(work, "notes.jpg")
    with open(bogus, "w") as f:
        f.write("not an image at all")
    by_id("file-input").send_keys(bogus)
    wait_for("#analyze to be enabled", lambda: by_id("analyze").is_enabled())
    by_id("analyze").click()
    alert = wait_for("the error alert", lambda: by_id("error-alert").is_displayed()
                     and by_id("error-alert").text)
    check("notes.jpg" in alert and "image" in alert, f"the alert reads {alert!r}")
    check(not by_id("verdict-card").is_displayed(), "a verdict for a refused file")
    log(f"refused upload: {alert!r}")


def test_single(driver, url, image, screenshot):
    from selenium.webdriver.common.by import By

    by_id = lambda name: driver.find_element(By.ID, name)  # noqa: E731
    driver.find_element(By.ID, "file-input").send_keys(image)
    wait_for("#analyze to be enabled", lambda: by_id("analyze").is_enabled())
    by_id("analyze").click()
    label = wait_for("the verdict", lambda: by_id("verdict-label").text.strip())
    confidence = by_id("verdict-confidence").text.strip()
    elapsed = by_id("verdict-time").text.strip()
    log(f"single: {os.path.basename(image)} -> {label!r}, {confidence!r}, {elapsed!r}")

    # What the API itself says for the same bytes (the models are deterministic).
    with open(image, "rb") as f:
        answer = json.loads(http_post(url + "/v1/detect", f.read(), "image/jpeg"))
    api_label, p_ai, p_models = summarize(answer)
    expected_label = "AI-generated" if api_label == "ai-generated" else "Real"
    check(label == expected_label, f"the page says {label!r}, the API {api_label!r}")
    match = re.fullmatch(r"(\d{1,3}\.\d)% confidence", confidence)
    check(match, f"#verdict-confidence reads {confidence!r}")
    expected_confidence = 100 * (p_ai if api_label == "ai-generated" else 1 - p_ai)
    check(abs(float(match.group(1)) - expected_confidence) <= 0.051,
          f"confidence {match.group(1)} vs the API's {expected_confidence:.2f}")
    check(re.fullmatch(r"\d+(\.\d+)? ms", elapsed), f"#verdict-time reads {elapsed!r}")

    check(not by_id("error-alert").is_displayed(), "the error alert stayed after a good analysis")
    rows = driver.find_elements(By.CSS_SELECTOR, "#model-results tbody tr")
    check(len(rows) == len(p_models), f"{len(rows)} model rows for {len(p_models)} models")
    chart = driver.execute_script(
        "const c = Chart.getChart('compare-chart');"
        "return c && {labels: c.data.labels, ai: c.data.datasets[1].data};")
    check(chart and len(chart["ai"]) == len(p_models), f"comparison chart: {chart}")
    for value, p_model in zip(chart["ai"], p_models):
        check(abs(value - 100 * p_model) < 1e-6, f"chart {value} vs P(AI) {p_model}")
    if len(p_models) > 1:
        check(by_id("verdict-agree").text in ("The models agree", "The models disagree"),
              "no agreement badge")
    if screenshot:
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        time.sleep(0.4)  # the chart's 250 ms animation
        driver.save_screenshot(screenshot)
        log(f"screenshot: {screenshot}")
    return label


def test_batch(driver, images):
    from selenium.webdriver.common.by import By

    by_id = lambda name: driver.find_element(By.ID, name)  # noqa: E731
    by_id("tab-batch").click()
    wait_for("the batch tab", lambda: by_id("batch-input").is_displayed())
    # Drag and drop: a drop event carrying two files selects them.
    driver.execute_script("""
        const transfer = new DataTransfer();
        for (const name of ['a.png', 'b.png'])
          transfer.items.add(new File([new Uint8Array([137, 80, 78, 71])], name, {type: 'image/png'}));
        document.getElementById('batch-drop').dispatchEvent(
            new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));""")
    check(by_id("batch-selected").text == "2 images selected",
          f"after a drop of 2 files: {by_id('batch-selected').text!r}")
    by_id("batch-input").send_keys("\n".join(images))
    wait_for("#batch-run to be enabled", lambda: by_id("batch-run").is_enabled())
    by_id("batch-run").click()
    wait_for("the batch to finish",
             lambda: by_id("batch-progress").get_attribute("aria-valuenow") == "100"
             and by_id("batch-status").text.startswith("Analysed"))
    check(by_id("batch-progress").text.strip() == "100%", "progress bar text")
    rows = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")
    check(len(rows) == len(images), f"{len(rows)} batch rows for {len(images)} images")
    names = [row.find_elements(By.TAG_NAME, "td")[1].text for row in rows]
    check(names == [os.path.basename(p) for p in images], f"batch rows name {names}")
    labels = [row.get_attribute("data-label") for row in rows]
    check(all(label in ("real", "ai-generated") for label in labels),
          f"batch rows' labels {labels} (an error row has none): {by_id('batch-table').text}")
    real, ai = int(by_id("batch-count-real").text), int(by_id("batch-count-ai").text)
    check(real + ai == len(images) and ai == labels.count("ai-generated"),
          f"counts real {real} ai {ai} for labels {labels}")
    log(f"batch: {len(images)} images, {by_id('batch-status').text}")


def test_exports(driver, downloads, names):
    from selenium.webdriver.common.by import By

    by_id = lambda name: driver.find_element(By.ID, name)  # noqa: E731
    by_id("tab-history").click()
    wait_for("the history tab", lambda: by_id("export-csv").is_displayed())
    check(by_id("history-count").text == str(len(names)),
          f"history count {by_id('history-count').text}, expected {len(names)}")
    cards = driver.find_elements(By.CSS_SELECTOR, "#history-list img.card-img-top")
    check(len(cards) == len(names), f"{len(cards)} history thumbnails for {len(names)} analyses")

    by_id("export-csv").click()
    with open(wait_for_download(downloads, "forensight-analyses.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    check(sorted(r["file_name"] for r in rows) == sorted(names), f"CSV rows: {rows}")
    for r in rows:
        check(r["label"] in ("real", "ai-generated") and 0 <= float(r["p_ai"]) <= 1
              and float(r["total_ms"]) >= 0 and r["models"], f"CSV row {r}")

    by_id("export-json").click()
    with open(wait_for_download(downloads, "forensight-analyses.json")) as f:
        exported = json.load(f)
    check(sorted(a["file_name"] for a in exported["analyses"]) == sorted(names),
          f"JSON: {exported}")

    by_id("export-pdf").click()
    pdf = wait_for_download(downloads, "forensight-report.pdf")
    with open(pdf, "rb") as f:
        check(f.read(5) == b"%PDF-", "the report is not a PDF")
    text = run(["pdftotext", "-layout", pdf, "-"])
    for needle in [f"Images analysed: {len(names)}", "Verdicts", *names]:
        check(needle in text, f"the PDF's text has no {needle!r}:\n{text}")
    check("Real" in text or "AI-generated" in text, "no verdict in the PDF")
    log(f"exports: CSV {len(rows)} rows, JSON, PDF {os.path.getsize(pdf)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forensight", help="the forensight executable to start `serve` from")
    parser.add_argument("--url", help="test a server already running here instead")
    parser.add_argument("--images", help="with --url: a folder of JPEGs to upload")
    parser.add_argument("--screenshot", help="save a screenshot of the analysed image here")
    parser.add_argument("--single", help="the image to analyse alone (default: the first one)")
    parser.add_argument("--batch-size", type=int, default=6, help="images in the batch")
    args = parser.parse_args()
    if not args.forensight and not args.url:
        parser.error("give --forensight BINARY or --url URL")
    skip_if_missing()

    work = tempfile.mkdtemp(prefix="forensight-browser-")
    downloads = os.path.join(work, "downloads")
    os.makedirs(downloads)
    server = driver = None
    try:
        if args.url:
            url = args.url.rstrip("/")
            images = sorted(glob.glob(os.path.join(args.images, "**", "*.jpg"), recursive=True))
        else:
            checkpoints, images = make_checkpoints(os.path.abspath(args.forensight), work)
            log(f"checkpoints: {checkpoints}")
            server, url, _ = start_server(os.path.abspath(args.forensight), checkpoints, work)
            log(f"forensight serve at {url}")
        check(len(images) > args.batch_size, f"need more than {args.batch_size} images, have {images}")
        models = json.loads(http_get(url + "/v1/models")[1])["models"]
        log(f"models: {[m['name'] for m in models]}")

        driver = make_driver(downloads)
        driver.get(url + "/")
        wait_for("the model list", lambda: driver.execute_script("return document.body.dataset.ready"))
        check(driver.title.startswith("Forensight"), f"page title {driver.title!r}")

        single = os.path.abspath(args.single) if args.single else images[0]
        batch = images[-args.batch_size:]
        test_refused_upload(driver, work)
        test_single(driver, url, single, args.screenshot)
        test_batch(driver, batch)
        test_exports(driver, downloads, [os.path.basename(p) for p in [single, *batch]])
        errors = console_errors(driver)
        check(not errors, f"the page logged errors: {errors}")
        log("passed")
        return 0
    except Exception:
        if server is not None:
            print(open(os.path.join(work, "serve.log")).read()[-4000:], file=sys.stderr)
        if driver is not None:
            try:
                print("browser console:", driver.get_log("browser"), file=sys.stderr)
            except Exception:  # the browser may be gone
                pass
        raise
    finally:
        if driver is not None:
            driver.quit()
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
