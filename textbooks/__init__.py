"""textbooks: the phi-1 recipe ("Textbooks Are All You Need", arXiv 2306.11644) end to end.

Importing the package stays light (no torch); each stage imports what it needs.
"""

__version__ = "0.1.0"
