import os
import sys

# Make corpus.py / impls.py importable whatever the rootdir and import mode.
sys.path.insert(0, os.path.dirname(__file__))
