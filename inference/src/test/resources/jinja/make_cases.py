"""Writes cases.json: small chat templates rendered by Jinja2 the way Hugging Face transformers
4.57 renders chat templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, its tojson, raise_exception and {% generation %} tag). Run with Jinja2 3.1: python3 make_cases.py"""
import json
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.exceptions import TemplateError

def raise_exception(message):
    raise TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

class AssistantTracker(Extension):
    """transformers' {% generation %} tag, as it renders when no assistant mask is asked for: the body as it is."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, "jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

CONV = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "  Hello | world\n"},
    {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHi there"},
    {"role": "user", "content": "你好 🙂"},
]
CASES = [
    ("slices", "{% for m in messages[1:] %}[{{ m.role }}]{% endfor %}{% for m in messages[::-1] %}{{ m.role[:1] }}{% endfor %}{{ messages[-1].content[-2:] }}{{ messages[1:3]|length }}"),
    ("string_methods", "{% for m in messages %}{{ m.content.split('|')|length }},{{ m.content.strip() }},{{ m.content.strip(' \\n').upper() }},{{ m.content.startswith('<think>') }},{{ m.content.endswith(('there', 'x')) }},{{ m.content.split()|join('_') }},{{ m.content.replace('l', 'L') }};{% endfor %}"),
    ("think_split", "{% for m in messages %}{% if '</think>' in m.content %}{{ m.content.split('</think>')[-1].lstrip('\\n') }}|{{ m.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}{% endif %}{% endfor %}"),
    ("namespace_loop", "{% set ns = namespace(found=false, last=messages|length - 1, n=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% set ns.last = loop.index0 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.last }} {{ ns.n }}"),
    ("loop_vars", "{%- for m in messages %}\n  {{- loop.index }}/{{ loop.length }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{% if not loop.last %},{% endif %}\n{%- endfor %}"),
    ("whitespace", "{% for m in messages %}\n  {% if m.role == 'user' %}\n    <u>{{ m.content }}</u>\n  {% else %}\n    <o>{{ m.role }}</o>\n  {% endif %}\n{% endfor %}\n{% if add_generation_prompt %}\n  <gen>\n{% endif %}\n"),
    ("tojson", "{{ messages[0]|tojson }}{{ {'a': [1, 2.5, none, true], 'b': 'x\"y\\n'}|tojson }}{{ messages[3]|tojson(indent=2) }}"),
    ("dict_access", "{% for m in messages %}{{ m['role'] }}={{ m.get('name', 'anon') }}{% if m.name is defined %}!{% endif %};{% endfor %}"),
    ("bos_eos", "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"),
    ("loopcontrols", "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}{% if m.role == 'assistant' %}{% break %}{% endif %}{{ m.role }}{% endfor %}"),
    ("trailing_newline", "{{ messages|length }}\n"),
    ("loop_filter", "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }} {{ m.role }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %};{% endfor %}{% for k, v in {'a': 1, 'b': 0}.items() if v %}{{ k }}{{ loop.length }}{% endfor %}"),
    ("for_else", "{% for m in messages if m.role == 'tool' %}{{ m.role }}{% else %}no tools{% endfor %}|{% for m in messages %}{% if loop.first %}F{% else %}.{% endif %}{% else %}empty{% endfor %}"),
    ("tojson_floats", "{{ [1e21, 1e-7, 1e16, 2.5e-5, -2.5e-5, 12345678.5, 0.0001, 1e15, -0.0, 0.1, 1/3, 1.5e300, 0.1 + 0.2, 5e-324]|tojson }}"),
    ("float_printing", "{{ 1e21 }} {{ 12345678.5 }} {{ 2.5e-5 }} {{ 1.0 }} {{ 10 / 4 }} {{ 0.1 + 0.2 }}"),
    ("generation", "{% set ns = namespace(n=0) %}{% generation %}{% set ns.n = 1 %}{% set x = 2 %}{% endgeneration %}{{ ns.n }}{{ x is defined }}{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}"),
    ("repetition", "{{ '=' * 3 }}{{ 2 * 'ab' }}{{ [1] * 2 }}{{ 2 * 3 }}{{ 1.5 * 2 }}"),
    ("select_without_test", "{{ [1, 0, '', 'a']|select|list }}{{ [1, 0, '', 'a']|reject|list }}{{ [1, 2, 3, 4]|select('even')|list }}"),
    ("test_after_filter", "{% if messages|length is divisibleby 2 %}even{% endif %}{% if messages|length is not divisibleby(3) %} not3{% endif %} {{ messages|first is mapping }}"),
    ("nested_dict_literal", "{{ {'a': {'b': 2}}['a']['b'] }}{% set d = {'x': {'y': [1, {'z': 3}]}} %}{{ d.x.y[1].z }}{{ '}}' }}{{ {'a': 1}}}{% set e = {'k': {'v': 4}}%}{{ e.k.v }}"),
    ("dict_items", "{{ messages[0].items()|list }}{% for k, v in messages[0].items() %};{{ k }}={{ v }}{% endfor %}{{ {'a': 1}.items()|list|tojson }}"),
    ("container_printing", "{{ [none, 'a\"b', \"it's\", 1.5e7, {'a': {'b': true}}, 'y\\\\z', 3, [], {}] }}{{ messages|map(attribute='content')|list }}{{ {'k': [1, none]} }}"),
    ("lstrip_only_at_line_start", "{% for m in messages %}{{ m.role }} {% endfor %}|\n  {# note #}\n\t{% if true %}A{% endif %} \n  {%+ if true %}B{% endif %}"),
]
out = []
for name, template in CASES:
    for agp in (True, False):
        text = env.from_string(template).render(messages=CONV, add_generation_prompt=agp, bos_token="<s>", eos_token="</s>")
        out.append({"name": name, "template": template, "add_generation_prompt": agp, "text": text})
raising = "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user message') }}{% endif %}ok"
json.dump({"messages": CONV, "bos_token": "<s>", "eos_token": "</s>", "cases": out,
           "raising_template": raising}, open("cases.json", "w"), ensure_ascii=False, indent=1)
print(len(out), "cases")
