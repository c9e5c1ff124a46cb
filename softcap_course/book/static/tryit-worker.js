// The Python of the book's "Try it here" exercises: Pyodide in a Web Worker (a module worker), so that a reader's
// endless loop blocks this thread only; the page stops it with worker.terminate(). Everything it loads comes from
// the book's own _static/ folder: Pyodide's runtime (vendored by `make book`) and the course's two Python files.
// It writes no text for the reader itself: a verdict comes from exercises.py in the page's language, and its own
// failures go back as a type and a detail, which tryit.js words in that language.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const here = new URL(".", import.meta.url);

const ready = (async () => {
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", here).href, packages: [] });
  pyodide.FS.mkdirTree("/home/pyodide/softcap_course");
  pyodide.FS.writeFile("/home/pyodide/softcap_course/__init__.py", "");
  for (const name of ["autograd.py", "exercises.py"]) {
    const response = await fetch(new URL(`tryit/${name}`, here));
    if (!response.ok) throw new Error(`could not load ${name} (${response.status})`);
    pyodide.FS.writeFile(`/home/pyodide/softcap_course/${name}`, await response.text());
  }
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide')");
  return pyodide.pyimport("softcap_course.exercises").run_exercise;
})();

self.onmessage = async (event) => {
  const { id, exercise, code, language } = event.data;
  let run;
  try {
    run = await ready;
  } catch (error) {
    self.postMessage({ id, type: "no-python", detail: String(error) });
    return;
  }
  self.postMessage({ id, type: "started" });
  let text;
  try {
    text = run.callKwargs(exercise, code, { language: language || "en" });
  } catch (error) {
    self.postMessage({ id, type: "checks-broke", detail: String(error) });
    return;
  }
  self.postMessage({ id, type: "result", text });
};
