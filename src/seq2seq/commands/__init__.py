"""The sub-commands of the `seq2seq` command line (parsed in `seq2seq.cli`).

Each module runs one sub-command from already-parsed arguments: `train`,
`evaluate`, `predict` and `tasks`; `datasets` and `inference` hold what they
share. Modules that need Keras are imported only when their command runs.
"""
