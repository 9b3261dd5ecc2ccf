// The Jinja chat template check, rule by rule, each with a clean twin that real templates write:
// code sections found like Jinja's lexer finds them, dunders, names that reach code, strings that
// spell or build a dunder where they name an attribute, attr() with a computed name, %c, and
// statements that load other templates. (Real templates from tests/scan/data: gguf_test.cpp.)
#include <gtest/gtest.h>

#include "scan/internal.hpp"

namespace stkit::detail {
namespace {

std::vector<std::string> found(std::string_view text) {
    std::vector<std::string> tokens;
    for (const template_issue& issue : chat_template_issues(text)) tokens.push_back(issue.token);
    return tokens;
}

bool flags(std::string_view text, std::string_view token) {
    auto tokens = found(text);
    return std::find(tokens.begin(), tokens.end(), token) != tokens.end();
}

std::string listing(std::string_view text) {
    std::string out;
    for (const std::string& token : found(text)) out += "'" + token + "' ";
    return out;
}

// Each dangerous template must report its token; each clean twin must report nothing.
void expect_rule(const std::vector<std::pair<std::string_view, std::string_view>>& dangerous,
                 const std::vector<std::string_view>& clean) {
    for (auto [text, token] : dangerous) EXPECT_TRUE(flags(text, token)) << text << " -> " << listing(text);
    for (std::string_view text : clean) EXPECT_TRUE(found(text).empty()) << text << " -> " << listing(text);
}

TEST(chat_template, only_code_sections_count) {
    expect_rule({
                    {"{{ x.__class__ }}", "__class__"},
                    {"{%- set y = x.__class__ -%}", "__class__"},
                    // A closing delimiter inside a string, or inside brackets, does not end the section.
                    {"{{ '}}' ~ x.__class__ }}", "__class__"},
                    {"{% if '%}' %}{{ x.__mro__ }}{% endif %}", "__mro__"},
                    {"{{ {'a': {'b': 1}} }}{{ {'a': 1}}.__class__ }}", "__class__"},
                    // Jinja refuses an unterminated section; it is read as code all the same.
                    {"hello {{ x.__globals__", "__globals__"},
                    {"{% raw %}no end {{ x.__dict__ }}", "__dict__"},
                },
                {
                    "Explain __class__, __init__ and os.system() to the user. {{ messages[0].content }}",
                    "{# x.__class__.__base__ #}{#- os.popen -#}hello",
                    "{% raw %}{{ x.__class__ }}{% endraw %}{%- raw -%}{% set os = 1 %}{%- endraw %}",
                    "{{ \"}}\" }} __class__ {{ '{\"name\": \"' + tool.name + '\"}' }}",
                });
}

TEST(chat_template, dunder_names_and_attributes) {
    expect_rule({
                    {"{{ namespace.__init__.__globals__ }}", "__init__"},
                    {"{{ dict(__class__=1) }}", "__class__"},
                    {"{% for c in ().__class__.__base__.__subclasses__() %}{% endfor %}", "__subclasses__"},
                },
                {
                    "{% set ns = namespace(found=false) %}{% set ns.found = true %}{{ ns.found }}",
                    "{{ _private_name }}{{ x._module }}{{ '__' }}",
                });
}

TEST(chat_template, names_that_reach_code_unless_the_template_binds_them) {
    expect_rule({
                    {"{{ os.popen('id').read() }}", "os"},
                    {"{{ x.popen('id') }}", "popen"},
                    {"{{ x.eval }}", "eval"},
                    {"{{ lipsum }}", "lipsum"},
                    {"{{ self._TemplateReference__context }}", "self"},
                    {"{{ config.items() }}", "config"},
                    {"{{ request.application }}", "request"},
                    {"{{ joiner() }}{{ cycler('a') }}", "cycler"},
                    {"{{ ns.system }}", "system"},
                },
                {
                    // Bound by the template: a variable, a namespace field, a loop variable, a macro parameter.
                    "{%- set system = messages[0].content -%}{{ system }}",
                    "{% set ns = namespace(system='') %}{% set ns.system = 'x' %}{{ ns.system }}",
                    "{% for config in configs %}{{ config }}{% endfor %}",
                    "{% macro render(request, self) %}{{ request }}{% endmacro %}",
                    // Attribute positions of globals, strings and look-alike names are data.
                    "{{ tool.config }}{{ message['system'] }}{{ 'os' }}{{ system_message }}{{ osmosis }}",
                    "{{ raise_exception('bad') }}{{ strftime_now('%Y') }}{{ loop.index }}{{ tools | tojson }}",
                });
}

TEST(chat_template, strings_that_spell_a_dunder_where_they_name_an_attribute) {
    expect_rule({
                    {"{{ x|attr('__class__') }}", "__class__"},
                    {"{{ x['__globals__']['os'] }}", "__globals__"},
                    {"{{ x|map(attribute='__class__.__name__')|list }}", "__class__.__name__"},
                    {"{{ x|selectattr('__class__') }}", "__class__"},
                    // Escapes are decoded as Jinja decodes them.
                    {R"({{ x|attr('\x5f\x5fclass\x5f\x5f') }})", "__class__"},
                    {R"({{ x|attr('\u005f\u005fclass\U0000005f\U0000005f') }})", "__class__"},
                    {R"({{ x|attr('\137\137class\137\137') }})", "__class__"},
                    {R"({{ x|attr('\N{LOW LINE}\N{low line}cl\N{LATIN SMALL LETTER A}ss__') }})", "__class__"},
                },
                {
                    // Printed or compared, such a string is data.
                    "{% if x == '__end__' %}{{ '__bold__' }}{% endif %}{{ x|attr('content') }}",
                    "{{ messages|selectattr('role', 'equalto', 'system')|list }}{{ x|map(attribute='name') }}",
                    R"({{ '\x41\u00e9\n\\' }}{{ x['role'] }}{{ '<__media__>' }})",
                });
}

TEST(chat_template, dunders_built_from_pieces) {
    expect_rule({
                    {"{{ ''['__cla' ~ 'ss__'] }}", "__class__"},
                    {"{% set n = '__cla' + 'ss__' %}", "__class__"},
                    {"{{ x['__cla' 'ss__'] }}", "__class__"},
                    {"{{ x[('_' * 2) ~ 'class' ~ '_'*2] }}", "__class__"},
                    {"{% set u = '_' %}{% set n = u ~ u ~ 'class' ~ u ~ u %}{{ x[n] }}", "__class__"},
                    {"{{ x['__cla' ~ y] }}", "__cla{y}"},
                    {"{% set n = '__cla' ~ y %}{{ x[n] }}", "{n}"},
                    {"{% set n = 'ssalc__'|reverse %}{{ x[n] }}", "{n}"},
                    {"{{ x[['__', 'class', '__']|join] }}", "__"},
                    {"{{ x|attr('po' ~ 'pen') }}", "popen"},
                },
                {
                    // Concatenation that builds text.
                    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}",
                    "{{ '__' + message.content + '__' }}{% set sep = '_' %}{{ a ~ sep ~ b }}{{ '=' * 20 }}",
                });
}

TEST(chat_template, computed_attribute_names_and_characters_from_numbers) {
    expect_rule({
                    {"{{ x|attr(name) }}", "attr"},
                    {"{{ x|attr('a' ~ b) }}", "attr"},
                    {"{{ x|attr('%c%cclass%c%c'|format(95,95,95,95)) }}", "%c%cclass%c%c"},
                },
                {
                    "{{ '%s: %d'|format(role, count) }}{{ x|attr('content') }}",
                });
}

TEST(chat_template, statements_that_load_templates) {
    expect_rule({
                    {"{% include 'header.j2' %}", "include"},
                    {"{% extends 'base.j2' %}", "extends"},
                    {"{% from 'macros.j2' import render %}", "from"},
                    {"{% import 'macros.j2' as m %}", "import"},
                },
                {
                    "{% if include_tools %}{{ extends }}{% endif %}",
                });
}

TEST(chat_template, hostile_templates_stay_linear) {
    // Raw tags without an end, and runs that repeat long strings, within a large template.
    std::string raws, runs = "{{ x[";
    for (int i = 0; i < 100'000; ++i) raws += "{% raw %}";
    for (int i = 0; i < 20'000; ++i) runs += "'" + std::string(200, '_') + "' * 32 ~ ";
    runs += "'__class__'] }}";
    EXPECT_TRUE(found(raws).empty());
    EXPECT_FALSE(found(runs).empty());
}

TEST(chat_template, issues_are_located) {
    std::string_view text = "hello {{ x.__class__ }}";
    auto issues = chat_template_issues(text);
    ASSERT_EQ(issues.size(), 1u);
    EXPECT_EQ(issues[0].position, text.find("__class__"));
    EXPECT_FALSE(issues[0].reason.empty());
}

}  // namespace
}  // namespace stkit::detail
