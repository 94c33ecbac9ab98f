/*
 * mock_req — canonical JSON and system-prompt extraction for bl-mockd.
 * See mock_req.h for what "canonical" means.  Every function is pure:
 * it reads a parsed document and appends to a caller-owned buffer.
 */
#include "mock_req.h"

#include <stdlib.h>

void mock_canon(struct jw *w, const struct json *j, int t, const char *skip_key)
{
	int i, k;
	size_t n;
	const char *raw;

	switch (json_type(j, t)) {
	case JSON_OBJECT:
		jw_obj(w);
		JSON_OBJECT_EACH(j, t, i, k)
		{
			if (skip_key && json_streq(j, k, skip_key))
				continue;
			char *key = json_str(j, k, NULL);
			jw_key(w, key ? key : "");
			free(key);
			mock_canon(w, j, k + 1, NULL);
		}
		jw_obj_end(w);
		break;
	case JSON_ARRAY:
		jw_arr(w);
		JSON_ARRAY_EACH(j, t, i, k)
		{
			mock_canon(w, j, k, NULL);
		}
		jw_arr_end(w);
		break;
	case JSON_STRING: {
		char *s = json_str(j, t, &n);
		jw_strn(w, s ? s : "", s ? n : 0);
		free(s);
		break;
	}
	case JSON_NONE:
		jw_null(w);
		break;
	default: /* numbers, true, false, null: as written */
		raw = json_raw(j, t, &n);
		jw_raw(w, raw, n);
		break;
	}
}

void mock_canon_buf(struct buf *b, const struct json *j, int t, const char *skip_key)
{
	struct jw w;
	jw_init(&w, b);
	mock_canon(&w, j, t, skip_key);
}

/* Appends a content value (a string, or an array of parts with "text"). */
static void add_text_content(const struct json *j, int c, struct buf *b)
{
	int i, e;

	if (json_type(j, c) == JSON_STRING) {
		json_str_buf(j, c, b);
		return;
	}
	if (json_type(j, c) != JSON_ARRAY)
		return;
	JSON_ARRAY_EACH(j, c, i, e)
	{
		int text = json_get(j, e, "text");
		if (json_type(j, text) == JSON_STRING)
			json_str_buf(j, text, b);
	}
}

void mock_anthropic_system(const struct json *j, struct buf *b)
{
	add_text_content(j, json_get(j, 0, "system"), b);
}

void mock_openai_system(const struct json *j, struct buf *b)
{
	int msgs = json_get(j, 0, "messages");
	int i, m;

	if (json_type(j, msgs) != JSON_ARRAY)
		return;
	JSON_ARRAY_EACH(j, msgs, i, m)
	{
		int role = json_get(j, m, "role");
		if (json_streq(j, role, "system") || json_streq(j, role, "developer"))
			add_text_content(j, json_get(j, m, "content"), b);
	}
}
