"""The shipped checkpoint zoo: its specs and training loop, the model card, and the command line."""
