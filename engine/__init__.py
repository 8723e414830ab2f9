"""The answering engine: retrieve -> read -> decide -> quote, without the web app.

`pipeline.AnswerEngine` runs the stages; `evidence` splits passages into sentences and selects
them, `answerability` scores them, `decide` answers or refuses with a reason, `generative` checks
an LLM's answer against the passages. `service/` (HTTP) and `eval/` call it.
"""
