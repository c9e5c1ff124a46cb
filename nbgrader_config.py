# nbgrader configuration for the course, used by every nbgrader command run from the repository root.
c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "softcap-course"
c.CourseDirectory.root = "."
# nbgrader's "source" and "release" steps live in solutions/ and notebooks/; the other steps keep their names.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The notebooks must not need more than this per cell; a student's endless loop is cut here.
c.ExecutePreprocessor.timeout = 60
