// "Try it here": run a reader's Python in the browser and check it (softcap_course/book/tryit.py writes the HTML).
// Each exercise: <div data-exercise="name"> with a <textarea>, a Run <button>, a Reset <button> and an element with
// data-role="result". The code runs in one shared Web Worker (tryit-worker.js); a run that takes longer than the
// time limit is stopped by terminating the worker (the next run starts a fresh one). The code is kept in this
// browser's localStorage, per page and exercise; nothing is sent anywhere.
// The page's <html lang> picks the language ("es" on the Spanish edition, English otherwise): the checks' verdicts
// come from exercises.py in that language, this script's own texts from TEXTS below.
(function () {
  "use strict";
  const script = document.currentScript;
  const base = new URL(".", script.src);  // the book's _static/ folder
  const TIME_LIMIT_MS = 5000;  // for the reader's code and the checks, once Python has loaded
  const LOAD_LIMIT_MS = 120000;  // for loading Python itself, the first time
  const LANGUAGE = document.documentElement.lang.toLowerCase().split("-")[0] === "es" ? "es" : "en";
  // A failure starts with the language's "failed" word, like the verdicts of exercises.py, so that the box's
  // state and the reader see the same thing whoever wrote the text.
  const TEXTS = {
    en: {
      running: "running...",
      loading: "running... (loading Python in your browser, the first time)",
      timedOut: (seconds) => `failed: stopped after ${seconds} s: your code did not finish (an endless loop?). ` +
        "Python restarts for the next run.",
      stoppedByOther: "failed: stopped because another exercise on this page ran too long; run it again",
      notServed: "failed: the exercises need the book served over http, not opened as a file: run " +
        "`python3 -m http.server -d _build/html` and open http://localhost:8000/",
      loadTimedOut: "failed: Python did not load in time; reload the page",
      workerFailed: (detail) => `failed: Python could not start (${detail})`,
      noPython: (detail) => `failed: Python could not start in this browser (${detail})`,
      checksBroke: (detail) => `failed: the checks themselves broke (${detail}); please report it`,
    },
    es: {
      running: "ejecutando...",
      loading: "ejecutando... (cargando Python en tu navegador, la primera vez)",
      timedOut: (seconds) => `incorrecto: detenido tras ${seconds} s: tu código no terminó (¿un bucle infinito?). ` +
        "Python se reinicia para la próxima ejecución.",
      stoppedByOther: "incorrecto: detenido porque otro ejercicio de esta página tardó demasiado; vuelve a ejecutarlo",
      notServed: "incorrecto: los ejercicios necesitan que el libro se sirva por http, no abierto como archivo: " +
        "ejecuta `python3 -m http.server -d _build/html` y abre http://localhost:8000/",
      loadTimedOut: "incorrecto: Python no se cargó a tiempo; recarga la página",
      workerFailed: (detail) => `incorrecto: Python no pudo arrancar (${detail})`,
      noPython: (detail) => `incorrecto: Python no pudo arrancar en este navegador (${detail})`,
      checksBroke: (detail) => `incorrecto: las propias comprobaciones fallaron (${detail}); por favor, avísanos`,
    },
  };
  const say = TEXTS[LANGUAGE];
  const passed = (text) => text.startsWith("passed") || text.startsWith("correcto");
  let worker = null;
  let nextId = 1;
  const pending = new Map();  // id -> {done, timer}

  function startWorker() {
    worker = new Worker(new URL("tryit-worker.js", base), { type: "module" });
    worker.onmessage = (event) => {
      const { id, type, text, detail } = event.data;
      const job = pending.get(id);
      if (!job) return;
      if (type === "started") {
        clearTimeout(job.timer);
        job.timer = setTimeout(() => stop(id, say.timedOut(TIME_LIMIT_MS / 1000)), TIME_LIMIT_MS);
      } else if (type === "no-python") {
        finish(id, say.noPython(detail));
      } else if (type === "checks-broke") {
        finish(id, say.checksBroke(detail));
      } else {
        finish(id, text);
      }
    };
    worker.onerror = (event) => {
      for (const id of Array.from(pending.keys())) finish(id, say.workerFailed(event.message || "error"));
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
    for (const other of others) finish(other, say.stoppedByOther);
  }

  function run(exercise, code) {
    if (location.protocol === "file:") {  // browsers start no worker for a page opened from a file
      return Promise.resolve(say.notServed);
    }
    return new Promise((done) => {
      if (!worker) startWorker();
      const id = nextId++;
      const timer = setTimeout(() => stop(id, say.loadTimedOut), LOAD_LIMIT_MS);
      pending.set(id, { done, timer });
      worker.postMessage({ id, exercise, code, language: LANGUAGE });
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
      result.textContent = worker ? say.running : say.loading;
      const text = await run(name, textarea.value);
      result.textContent = text;
      box.dataset.state = passed(text) ? "passed" : "failed";
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
