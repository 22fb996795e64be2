# SPDX-License-Identifier: Apache-2.0
# Turns a file into a C array, at build time (no xxd needed):
#   cmake -DIN=page.html -DOUT=page.c -DNAME=http_page_html -P embed.cmake
# defines `const unsigned char NAME[]` (NUL-terminated, not counted) and
# `const size_t NAME_len`.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes per line keeps the generated file readable and diffs small
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUT}.tmp
"/* Generated from ${IN} by embed.cmake: do not edit. */
#include <stddef.h>
const unsigned char ${NAME}[] = {
    ${bytes}0x00};
const size_t ${NAME}_len = ${nbytes};
")
file(RENAME ${OUT}.tmp ${OUT})
