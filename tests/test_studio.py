"""decensor studio: the server's safety rules over HTTP, and the page in a real headless Chromium."""

import base64
import io
import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import drawing, paint_green
from PIL import Image

from decensor.studio import make_server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture()
def studio(tmp_path):
    """A running studio on a free port over a folder of two pages; yields (base URL, folder, out)."""
    folder, out = tmp_path / "pages", tmp_path / "out"
    (folder / "ch1").mkdir(parents=True)
    Image.fromarray(drawing(96, 128, seed=1)).save(folder / "one.png")
    Image.fromarray(paint_green(drawing(96, 128, seed=2), (20, 30, 50, 90))).save(folder / "ch1" / "two.png")
    (tmp_path / "secret.png").write_bytes((folder / "one.png").read_bytes())
    (folder / "link.png").symlink_to(tmp_path / "secret.png")
    server = make_server(folder, out, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder, out
    server.shutdown()
    server.server_close()


def _get(url):
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return _get(request)


def _mask_url(shape, box):
    rgba = np.zeros(shape + (4,), np.uint8)
    top, left, bottom, right = box
    rgba[top:bottom, left:right] = (255, 0, 90, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _wait_for(base, job):
    import time

    for _ in range(600):
        status = json.loads(_get(f"{base}/api/job?id={job}")[1])
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("the fill never finished")


def test_only_pages_inside_the_folder_are_listed_or_served(studio):
    base, folder, _ = studio
    status, body = _get(f"{base}/api/pages")
    assert status == 200 and json.loads(body)["pages"] == ["ch1/two.png", "one.png"]  # (not the link out)
    assert _get(f"{base}/api/page?name=one.png")[0] == 200
    for name in ("../secret.png", "link.png", str(folder / "one.png"), "/etc/passwd", "ch1/../../secret.png",
                 "ch1", "missing.png"):
        status, body = _get(f"{base}/api/page?name={urllib.request.quote(name)}")
        assert status in (400, 403, 404), name
        assert "Traceback" not in body.decode(errors="replace")
    assert _get(f"{base}/static/../server.py")[0] == 404
    assert _get(f"{base}/api/nothing")[0] == 404


def test_bad_requests_get_a_message_not_a_stack_trace(studio):
    base, _, _ = studio
    for body in ({"name": "one.png", "mask": "not a data url"}, {"name": "one.png", "mask": _mask_url((10, 10), (0, 0, 5, 5))},
                 {"name": "one.png", "mask": _mask_url((96, 128), (0, 0, 0, 0))}, {"name": "one.png", "mode": "x"}):
        status, answer = _post(f"{base}/api/fill", body)
        assert status == 400 and "error" in json.loads(answer)
    request = urllib.request.Request(f"{base}/api/fill", b"{", {"Content-Type": "application/json"})
    assert _get(request)[0] == 400
    assert _post(f"{base}/api/save", {"job": "nope"})[0] == 409


def test_two_tabs_filling_at_once_get_their_own_results(studio):
    base, folder, out = studio
    boxes = [(10, 10, 40, 50), (50, 70, 90, 120)]
    jobs = [json.loads(_post(f"{base}/api/fill", {"name": "one.png", "mode": "bar",
                                                   "mask": _mask_url((96, 128), box)})[1])["job"] for box in boxes]
    original = np.asarray(Image.open(folder / "one.png"))
    for job, (top, left, bottom, right) in zip(jobs, boxes):
        assert _wait_for(base, job)["state"] == "done"
        result = np.asarray(Image.open(io.BytesIO(_get(f"{base}/api/result?id={job}")[1])))
        hole = np.zeros(original.shape[:2], bool)
        hole[top:bottom, left:right] = True
        np.testing.assert_array_equal(result[~hole], original[~hole])
        assert (result[hole] != original[hole]).any()
    saved = json.loads(_post(f"{base}/api/save", {"job": jobs[1]})[1])["saved"]
    assert saved == "one.png" and (out / "one.png").exists()
    np.testing.assert_array_equal(np.asarray(Image.open(folder / "one.png")), original)  # the input untouched


def test_find_marks_masks_the_green_paint(studio):
    base, _, _ = studio
    answer = json.loads(_post(f"{base}/api/marks", {"name": "ch1/two.png"})[1])
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["mask"].split(",", 1)[1]))))
    assert mask[20:50, 30:90].all() and mask.sum() / 255 < 1.5 * 30 * 60


def test_find_marks_on_a_jpeg_page_takes_the_paints_blended_rim_as_decensor_bar_does(studio):
    # A quality 60 JPEG smears the green over a wider rim of tinted pixels; the studio's marks are the
    # hole `decensor bar` would fill on that file, not the rule for lossless pages.
    from decensor.engine import PaintSettings

    base, folder, _ = studio
    Image.fromarray(paint_green(drawing(96, 128, seed=3), (20, 30, 60, 100))).save(folder / "three.jpg", quality=60)
    answer = json.loads(_post(f"{base}/api/marks", {"name": "three.jpg"})[1])
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["mask"].split(",", 1)[1])))) > 127
    pixels = np.asarray(Image.open(folder / "three.jpg").convert("RGB"))
    as_bar, lossless = PaintSettings().detect(pixels, jpeg=True), PaintSettings().detect(pixels)
    np.testing.assert_array_equal(mask, as_bar)
    leaning = pixels[..., 1].astype(int) - np.maximum(pixels[..., 0], pixels[..., 2]) >= 10
    assert (leaning & ~mask).sum() < (leaning & ~lossless).sum()


def _browser(tmp_path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("DECENSOR_REQUIRE_BROWSER"):
            raise AssertionError("chromium and chromium-driver are not installed")
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def test_in_chromium_paint_a_stroke_fill_and_save(studio, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, folder, out = studio
    driver = _browser(tmp_path)
    try:
        driver.get(base + "/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#pages li")) == 2)
        driver.find_element(By.CSS_SELECTOR, '#pages li[data-name="one.png"]').click()
        wait.until(lambda d: "Paint over" in d.find_element(By.ID, "message").text)
        canvas = driver.find_element(By.ID, "canvas")
        (ActionChains(driver).move_to_element_with_offset(canvas, -30, -10).click_and_hold()
         .move_by_offset(40, 5).move_by_offset(30, 10).release().perform())
        mask_url = driver.execute_script("return document.getElementById('mask').toDataURL('image/png')")
        painted = np.asarray(Image.open(io.BytesIO(base64.b64decode(mask_url.split(",", 1)[1]))))[..., 3] >= 128
        assert painted.any(), "the stroke drew nothing on the mask"
        driver.find_element(By.ID, "fill").click()
        wait.until(lambda d: "Filled" in d.find_element(By.ID, "message").text)
        assert "busy" not in driver.find_element(By.TAG_NAME, "body").get_attribute("class")
        driver.find_element(By.ID, "save").click()
        wait.until(lambda d: "Saved" in d.find_element(By.ID, "message").text)
        requests = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
        urls = [r["params"]["request"]["url"] for r in requests if r["method"] == "Network.requestWillBeSent"]
    finally:
        driver.quit()
    before = np.asarray(Image.open(folder / "one.png"))
    after = np.asarray(Image.open(out / "one.png"))
    np.testing.assert_array_equal(after[~painted], before[~painted])
    assert (after[painted] != before[painted]).any()
    remote = [url for url in urls if url.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]
    assert remote and all(url.startswith(base + "/") for url in remote), remote  # (chrome:// is the browser's own)


def test_the_page_asks_for_nothing_outside_the_package():
    static = Path(__file__).resolve().parent.parent / "decensor" / "studio" / "static"
    for path in static.iterdir():
        text = path.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path.name


def test_the_command_serves_the_folder_and_warns_when_it_listens_beyond_this_machine(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "pages"
    folder.mkdir()
    Image.fromarray(drawing()).save(folder / "p.png")
    process = subprocess.Popen([sys.executable, "-m", "decensor", "studio", str(folder), "-o", str(tmp_path / "out"),
                                "--no-browser", "--port", "0", "--host", "0.0.0.0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("warning: the studio listens on 0.0.0.0")
        url = lines[1].split()[2]
        assert json.loads(_get(url + "api/pages")[1])["pages"] == ["p.png"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_studio_loads_no_network_library_to_start():
    import subprocess
    import sys

    script = ("import sys; import decensor.cli, decensor.studio; "
              "print(sorted(m for m in ('keras', 'tensorflow', 'onnxruntime', 'numba') if m in sys.modules))")
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.stdout.strip() == "[]", finished.stderr
