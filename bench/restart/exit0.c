/* SPDX-License-Identifier: Apache-2.0 */
/* The child that crashes at once: the cheapest possible run. */
int
main(void)
{
    return 0;
}
