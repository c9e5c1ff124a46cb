// The Python of the book's "Try it here" exercises: Pyodide in a Web Worker (a module worker), so that a reader's
// endless loop blocks this thread only; the page stops it with worker.terminate(). Everything it loads comes from
// the book's own _static/ folder: Pyodide's runtime (vendored by `make book`) and the course's two Python files.
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
  const { id, exercise, code } = event.data;
  let run;
  try {
    run = await ready;
  } catch (error) {
    self.postMessage({ id, type: "result", text: `failed: Python could not start in this browser (${error})` });
    return;
  }
  self.postMessage({ id, type: "started" });
  let text;
  try {
    text = run(exercise, code);
  } catch (error) {
    text = `failed: the checks themselves broke (${error}); please report it`;
  }
  self.postMessage({ id, type: "result", text });
};
