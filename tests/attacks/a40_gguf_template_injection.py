"""GGUF whose tokenizer.chat_template walks from () to os.popen through dunder attributes: the
llama-cpp-python template injection (CVE-2024-34359), rendered by an unsandboxed Jinja environment."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "name": "__class__"}}

TEMPLATE = ("{% for x in ().__class__.__base__.__subclasses__() %}"
            "{% if \"warning\" in x.__name__ %}"
            "{{ x()._module.__builtins__['__import__']('os').popen(\"" + shell_command() + "\") }}"
            "{% endif %}{% endfor %}")


def generate(folder):
    metadata = [("general.architecture", "llama"), ("general.name", "tiny"),
                ("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", ["<s>", "</s>", "a"]),
                ("tokenizer.chat_template", TEMPLATE)]
    return write(folder + "/model.gguf", gguf_bytes(metadata))
