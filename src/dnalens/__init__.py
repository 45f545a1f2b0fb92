"""dnalens: what has this DNA language model learned about this genome?"""

__version__ = "0.1.0"
