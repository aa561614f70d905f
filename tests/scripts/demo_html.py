"""Drives `ebsim demo --html` in Debian's chromium (headless, through chromium-driver and
selenium), with keyboard events, and checks the DOM; keeps a screenshot per visited stop.

Usage: demo_html.py PAGE.html SCREENSHOT_DIR
"""

import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

page, shots = sys.argv[1], sys.argv[2]
os.makedirs(shots, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000",
            "--disable-dev-shm-usage"):
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


try:
    driver.get("file://" + os.path.abspath(page))
    # The page needs no network: every resource is inline.
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
        for el in driver.find_elements(By.TAG_NAME, tag):
            check(not el.get_attribute(attr), f"{tag} loads {el.get_attribute(attr)}")

    def current():
        return [s for s in driver.find_elements(By.CSS_SELECTOR, "section.stop") if s.is_displayed()]

    def heading():
        shown = current()
        check(len(shown) == 1, f"{len(shown)} stops shown at once")
        return shown[0].find_element(By.TAG_NAME, "h2").text if shown else ""

    stops = driver.find_elements(By.CSS_SELECTOR, "section.stop")
    check(len(stops) >= 14, f"only {len(stops)} stops")
    check(heading().startswith("Setup"), "the walkthrough starts at the set-up")
    driver.save_screenshot(os.path.join(shots, "00-setup.png"))

    keys = ActionChains(driver)
    seen = []
    # Walk forward with the keyboard until step 5.
    for _ in range(len(stops)):
        if heading().startswith("Step 5/9"):
            break
        keys.send_keys(Keys.ARROW_RIGHT).perform()
        seen.append(heading())
    check(heading().startswith("Step 5/9"), f"never reached step 5: {seen}")
    driver.save_screenshot(os.path.join(shots, "05-step5.png"))

    # Step 5 shows the Decrypts with the volume's context, decided by the volume's grant.
    stop = current()[0]
    rows = stop.find_elements(By.CSS_SELECTOR, "tr.call")
    decrypts = [r for r in rows if r.get_attribute("data-operation") == "Decrypt"]
    check(len(decrypts) == 2, f"step 5 shows {len(decrypts)} Decrypts")
    for r in decrypts:
        ctx = r.find_element(By.CSS_SELECTOR, "td.context").text
        check("aws:ebs:id = vol-" in ctx, f"no volume context: {ctx!r}")
        check("aws:workspaces:sid-directoryid" in ctx, f"no user/directory context: {ctx!r}")
        check(r.find_element(By.CSS_SELECTOR, "td.decided").text.startswith("grant "), "not by a grant")
        check("aws:ec2-infrastructure/vol-" in r.find_element(By.CSS_SELECTOR, "td.principal").text,
              "not as the EC2 session")

    # The band of the current stop, and only it, is highlighted in the diagram.
    band = stop.get_attribute("data-band")
    lit = [b.get_attribute("id") for b in driver.find_elements(By.CSS_SELECTOR, "#diagram .band.current")]
    check(lit == [f"band-{band}"], f"highlighted bands {lit}, expected band-{band}")

    # Back one with the keyboard, then with k; forward with j.
    keys.send_keys(Keys.ARROW_LEFT).perform()
    check(heading().startswith("Step 4/9"), f"left arrow went to {heading()!r}")
    keys.send_keys("j").perform()
    check(heading().startswith("Step 5/9"), f"j went to {heading()!r}")

    # Lesson 1: the refused Decrypt, authorized first.
    for _ in range(len(stops)):
        if heading().startswith("Lesson 1"):
            break
        keys.send_keys(Keys.ARROW_RIGHT).perform()
    check(heading().startswith("Lesson 1"), "never reached lesson 1")
    stop = current()[0]
    err = stop.find_elements(By.CSS_SELECTOR, "tr.call.error")
    check(len(err) == 1 and "InvalidCiphertextException" in err[0].text, "lesson 1's refusal")
    check(bool(err) and "authorized by key policy statement" in err[0].text, "authorized, then refused")
    driver.save_screenshot(os.path.join(shots, "lesson1.png"))

    # The glossary on hover: terms carry their explanation.
    terms = driver.find_elements(By.CSS_SELECTOR, "abbr.term")
    check(len(terms) >= 5, f"{len(terms)} explained terms")
    check(any(t.get_attribute("textContent") == "encryption context"
              and "authenticated data" in t.get_attribute("title") for t in terms),
          "encryption context is not explained on hover")
    # Hovering shows the explanation (the title) of a term of the current stop.
    shown = [t for t in terms if t.is_displayed()]
    check(bool(shown), "no explained term in view")
    if shown:
        ActionChains(driver).move_to_element(shown[0]).perform()
        check(bool(shown[0].get_attribute("title")), "a term without an explanation")

    keys.send_keys(Keys.END).perform()
    check(heading().startswith("Step 9/9"), f"End went to {heading()!r}")
    driver.save_screenshot(os.path.join(shots, "99-end.png"))
finally:
    driver.quit()

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
