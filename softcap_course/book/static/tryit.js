// "Try it here": run a reader's Python in the browser and check it (softcap_course/book/tryit.py writes the HTML).
// Each exercise: <div data-exercise="name"> with a <textarea>, a Run <button>, a Reset <button> and an element with
// data-role="result". The code runs in one shared Web Worker (tryit-worker.js); a run that takes longer than the
// time limit is stopped by terminating the worker (the next run starts a fresh one). The code is kept in this
// browser's localStorage, per page and exercise; nothing is sent anywhere.
(function () {
  "use strict";
  const script = document.currentScript;
  const base = new URL(".", script.src);  // the book's _static/ folder
  const TIME_LIMIT_MS = 5000;  // for the reader's code and the checks, once Python has loaded
  const LOAD_LIMIT_MS = 120000;  // for loading Python itself, the first time
  let worker = null;
  let nextId = 1;
  const pending = new Map();  // id -> {done, timer}

  function startWorker() {
    worker = new Worker(new URL("tryit-worker.js", base), { type: "module" });
    worker.onmessage = (event) => {
      const { id, type, text } = event.data;
      const job = pending.get(id);
      if (!job) return;
      if (type === "started") {
        clearTimeout(job.timer);
        job.timer = setTimeout(() => stop(id, `failed: stopped after ${TIME_LIMIT_MS / 1000} s: your code did not ` +
          "finish (an endless loop?). Python restarts for the next run."), TIME_LIMIT_MS);
      } else {
        finish(id, text);
      }
    };
    worker.onerror = (event) => {
      for (const id of Array.from(pending.keys())) finish(id, `failed: Python could not start (${event.message || "error"})`);
      worker = null;
    };
  }

  function finish(id, text) {
    const job = pending.get(id);
    if (!job) return;
    clearTimeout(job.timer);
    pending.delete(id);
    job.done(text);
  }

  function stop(id, text) {
    if (worker) worker.terminate();
    worker = null;
    const others = Array.from(pending.keys()).filter((other) => other !== id);
    finish(id, text);
    for (const other of others) finish(other, "failed: stopped because another exercise on this page ran too long; run it again");
  }

  function run(exercise, code) {
    if (location.protocol === "file:") {  // browsers start no worker for a page opened from a file
      return Promise.resolve("failed: the exercises need the book served over http, not opened as a file: run " +
        "`python3 -m http.server -d _build/html` and open http://localhost:8000/");
    }
    return new Promise((done) => {
      if (!worker) startWorker();
      const id = nextId++;
      const timer = setTimeout(() => stop(id, "failed: Python did not load in time; reload the page"), LOAD_LIMIT_MS);
      pending.set(id, { done, timer });
      worker.postMessage({ id, exercise, code });
    });
  }

  function setUp(box) {
    const name = box.dataset.exercise;
    const textarea = box.querySelector("textarea");
    const runButton = box.querySelector('button[data-role="run"]');
    const resetButton = box.querySelector('button[data-role="reset"]');
    const result = box.querySelector('[data-role="result"]');
    const key = `softcap-tryit:${location.pathname}:${name}`;
    const stub = textarea.defaultValue;
    try {
      const saved = localStorage.getItem(key);
      if (saved !== null) textarea.value = saved;
    } catch (error) { /* storage may be disabled: the stub stays */ }
    textarea.addEventListener("input", () => {
      try { localStorage.setItem(key, textarea.value); } catch (error) { /* not kept, still runs */ }
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Tab" && !event.shiftKey) {  // Python wants indentation, not a jump to the next field
        event.preventDefault();
        textarea.setRangeText("    ", textarea.selectionStart, textarea.selectionEnd, "end");
        textarea.dispatchEvent(new Event("input"));
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        runButton.click();
      }
    });
    runButton.addEventListener("click", async () => {
      runButton.disabled = true;
      box.dataset.state = "running";
      result.textContent = worker ? "running..." : "running... (loading Python in your browser, the first time)";
      const text = await run(name, textarea.value);
      result.textContent = text;
      box.dataset.state = text.startsWith("passed") ? "passed" : "failed";
      runButton.disabled = false;
    });
    resetButton.addEventListener("click", () => {
      textarea.value = stub;
      try { localStorage.removeItem(key); } catch (error) { /* nothing kept */ }
      result.textContent = "";
      delete box.dataset.state;
    });
  }

  function setUpAll() {
    document.querySelectorAll("[data-exercise]").forEach(setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpAll);
  else setUpAll();
})();
