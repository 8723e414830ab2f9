"""The reader: a cross-encoder over (question, window) that judges whether the window answers
the question and where. Training data (`reader.data`), the torch model and its training
(`reader.model`, `reader.train`, optional `train` extra), export (`reader.export`) and the
runtime without torch (`reader.runtime`)."""
