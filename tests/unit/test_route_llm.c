/*
 * test_route_llm — what the Manager model is told about a stage run
 * (route_llm_report in lib/route_llm.c): the final message, the verdict
 * with its summary, findings and exit code, and a run that wrote
 * neither.  The agent loop itself is covered by tests/bl-manager.bats.
 */
#include "route_llm.h"

#include <string.h>

#include "t.h"

int main(void)
{
	struct sv_outcome c;
	memset(&c, 0, sizeof c);
	c.message = "I fixed the leak.";
	c.verdict = "changes_requested";
	c.verdict_line = "{\"type\":\"verdict\",\"verdict\":\"changes_requested\",\"summary\":"
	                 "\"one finding\",\"findings\":[\"a.c:3 leak\"],\"exit_code\":2}";
	struct tool_result res = {BUF_INIT, 0};
	route_llm_report(&res, "reviewer", &c);
	buf_addc(&res.text, '\0');
	T_STREQ(
	    res.text.p,
	    "reviewer finished.\n\nIts final message:\nI fixed the leak.\n\nVerdict: "
	    "changes_requested\nSummary: one finding\nFindings: [\"a.c:3 leak\"]\nExit code: 2\n",
	    "report: message, verdict, findings, exit code");
	T_INTEQ(res.is_error, 0, "report: not an error");
	buf_free(&res.text);

	memset(&c, 0, sizeof c);
	struct tool_result none = {BUF_INIT, 0};
	route_llm_report(&none, "planner", &c);
	buf_addc(&none.text, '\0');
	T_STREQ(none.text.p, "planner finished.\n(it wrote no message and no verdict)\n",
	        "report: neither message nor verdict");
	buf_free(&none.text);

	struct route_llm r;
	route_llm_init(&r);
	T_INTEQ(r.mfd, -1, "init: no memfd");
	route_llm_free(&r);
	T_INTEQ(r.mfd, -1, "free: safe on a route never set up");
	return t_done();
}
