"""nbgrader plug-in for feedback: students see what failed, never the hidden tests' code.

nbgrader 0.9 writes feedback from the autograded notebook, whose test cells hold the hidden tests
(nbgrader #1363). ``nbgrader_config.py`` therefore runs ``ClearHiddenTests`` on feedback, and this
preprocessor cuts each test cell's traceback (which quotes the lines around the failing one, hidden ones
included) down to the error itself: the checks' message names the call, the expected and the returned value.
"""

from nbgrader.preprocessors import NbGraderPreprocessor

from softcap_course.grading.classroom import nbgrader_meta


class ShortTestTracebacks(NbGraderPreprocessor):
    """Replace the traceback of every error in a test cell by ``ErrorName: message``."""

    def preprocess_cell(self, cell, resources, index):
        if nbgrader_meta(cell).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources
