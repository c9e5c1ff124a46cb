# nbgrader commands belong in the course root, the folder above this one: its nbgrader_config.py names the gradebook
# and the folders. Run from here, nbgrader would make an empty gradebook and grades.csv in this folder instead.
import sys

sys.exit("nbgrader runs from the course root, not from this folder: cd .. and run the command again")
