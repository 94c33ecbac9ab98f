// conformance.mjs — the official @anthropic-ai/sdk and openai clients against
// a running bl-mockd (tests/conformance.bats starts it with
// tests/fixtures/mockd/conformance.jsonl and sets ANTHROPIC_BASE_URL,
// OPENAI_BASE_URL and the fake keys).  If the real SDKs parse bl-mockd's
// streams, bodies and errors into the values the script holds, bl-mockd
// speaks both wire protocols well enough for every client we test with.
//
// Output: TAP, one "ok N - NAME" / "not ok N - NAME" per check, a plan line
// at the end.  Exit status 0 when every check passed, else 1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const scriptPath = process.argv[2];
if (!scriptPath || !process.env.ANTHROPIC_BASE_URL || !process.env.OPENAI_BASE_URL) {
	console.error('usage: ANTHROPIC_BASE_URL=... OPENAI_BASE_URL=... node conformance.mjs SCRIPT');
	process.exit(64);
}

// The scripted reply for a tag, straight from the script file.
const script = readFileSync(scriptPath, 'utf8')
	.split('\n')
	.filter((l) => l.trim() && !l.trim().startsWith('#'))
	.map((l) => JSON.parse(l));
const scripted = (tag) => script.find((r) => r.match === `[${tag}]`);

const anthropic = new Anthropic({
	apiKey: process.env.ANTHROPIC_API_KEY,
	baseURL: process.env.ANTHROPIC_BASE_URL,
	maxRetries: 0,
	timeout: 10000,
});
const openai = new OpenAI({
	apiKey: process.env.OPENAI_API_KEY,
	baseURL: process.env.OPENAI_BASE_URL,
	maxRetries: 0,
	timeout: 10000,
});

const MODEL_A = 'claude-mock-1';
const MODEL_O = 'gpt-mock-1';
const userHi = [{ role: 'user', content: 'hi' }];
const tools = [
	{ name: 'glob', description: 'find files', input_schema: { type: 'object', properties: { pattern: { type: 'string' } } } },
	{ name: 'read', description: 'read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
];
const oaTools = tools.map((t) => ({
	type: 'function',
	function: { name: t.name, description: t.description, parameters: t.input_schema },
}));

let n = 0;
let failed = 0;
async function check(name, fn) {
	n++;
	try {
		await fn();
		console.log(`ok ${n} - ${name}`);
	} catch (e) {
		failed++;
		console.log(`not ok ${n} - ${name}`);
		for (const line of String(e && e.stack ? e.stack : e).split('\n').slice(0, 12))
			console.log(`# ${line}`);
	}
}

async function rejects(promise) {
	try {
		await promise;
	} catch (e) {
		return e;
	}
	throw new Error('expected the call to fail');
}

const textOf = (blocks) => blocks.filter((b) => b.type === 'text').map((b) => b.text).join('');

await check('anthropic messages.stream text', async () => {
	const want = scripted('anthropic-text');
	const stream = anthropic.messages.stream({
		model: MODEL_A, max_tokens: 100, system: 'You are a test. [anthropic-text]', messages: userHi,
	});
	let streamed = '';
	stream.on('text', (t) => { streamed += t; });
	const msg = await stream.finalMessage();
	assert.equal(msg.role, 'assistant');
	assert.equal(msg.model, MODEL_A);
	assert.equal(msg.stop_reason, 'end_turn');
	assert.equal(msg.content.length, 1);
	assert.equal(msg.content[0].type, 'text');
	assert.equal(msg.content[0].text, want.content[0].text);
	assert.equal(streamed, want.content[0].text);
	assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
});

await check('anthropic messages.stream tool_use', async () => {
	const want = scripted('anthropic-tool');
	const stream = anthropic.messages.stream({
		model: MODEL_A, max_tokens: 100, system: '[anthropic-tool]', messages: userHi, tools,
	});
	const jsonDeltas = [];
	stream.on('inputJson', (partial) => { jsonDeltas.push(partial); });
	const msg = await stream.finalMessage();
	assert.equal(msg.stop_reason, 'tool_use');
	assert.equal(msg.content.length, 2);
	assert.equal(textOf(msg.content), want.content[0].text);
	const tool = msg.content[1];
	assert.equal(tool.type, 'tool_use');
	assert.equal(tool.name, 'glob');
	assert.match(tool.id, /^toolu_mock_\d+$/);
	assert.deepEqual(tool.input, want.content[1].input);
	assert.ok(jsonDeltas.length >= 2, `input arrived in ${jsonDeltas.length} pieces`);
});

await check('anthropic messages.create (not streamed)', async () => {
	const want = scripted('anthropic-create');
	const msg = await anthropic.messages.create({
		model: MODEL_A, max_tokens: 100, system: '[anthropic-create]', messages: userHi, tools,
	});
	assert.equal(msg.type, 'message');
	assert.equal(msg.stop_reason, 'tool_use');
	assert.equal(textOf(msg.content), want.content[0].text);
	assert.equal(msg.content[1].id, 'toolu_fixed_1');
	assert.deepEqual(msg.content[1].input, want.content[1].input);
});

await check('anthropic messages.create stream:true raw events', async () => {
	const events = await anthropic.messages.create({
		model: MODEL_A, max_tokens: 100, system: '[anthropic-events]', messages: userHi, stream: true,
	});
	const types = [];
	let text = '';
	for await (const ev of events) {
		types.push(ev.type);
		if (ev.type === 'content_block_delta') text += ev.delta.text;
	}
	assert.deepEqual(types, [
		'message_start', 'content_block_start', 'content_block_delta', 'content_block_delta',
		'content_block_stop', 'message_delta', 'message_stop',
	]);
	assert.equal(text, scripted('anthropic-events').content[0].text);
});

await check('anthropic 529 -> APIError overloaded_error', async () => {
	const e = await rejects(anthropic.messages.create({
		model: MODEL_A, max_tokens: 100, system: '[anthropic-529]', messages: userHi,
	}));
	assert.ok(e instanceof Anthropic.APIError, `got ${e && e.constructor && e.constructor.name}`);
	assert.equal(e.status, 529);
	assert.equal(e.error.type, 'error');
	assert.equal(e.error.error.type, 'overloaded_error');
	assert.match(String(e.requestID), /^req_mock_\d+$/);
	assert.equal(e.headers.get('retry-after'), '0');
});

await check('anthropic 401 -> AuthenticationError', async () => {
	const e = await rejects(anthropic.messages.stream({
		model: MODEL_A, max_tokens: 100, system: '[anthropic-401]', messages: userHi,
	}).finalMessage());
	assert.ok(e instanceof Anthropic.AuthenticationError, `got ${e && e.constructor && e.constructor.name}`);
	assert.equal(e.status, 401);
	assert.equal(e.error.error.type, 'authentication_error');
});

await check('anthropic error event mid-stream -> APIError', async () => {
	const e = await rejects(anthropic.messages.stream({
		model: MODEL_A, max_tokens: 100, system: '[anthropic-error-event]', messages: userHi,
	}).finalMessage());
	assert.ok(e instanceof Anthropic.APIError, `got ${e && e.constructor && e.constructor.name}: ${e}`);
	assert.equal(e.error.error.type, 'overloaded_error');
});

await check('anthropic prompt caching usage', async () => {
	const req = {
		model: MODEL_A, max_tokens: 100,
		system: [{ type: 'text', text: 'A long and stable system prompt. [anthropic-cache]', cache_control: { type: 'ephemeral' } }],
		messages: userHi,
	};
	const first = await anthropic.messages.create(req);
	const second = await anthropic.messages.stream(req).finalMessage();
	assert.ok(first.usage.cache_creation_input_tokens > 0);
	assert.equal(first.usage.cache_read_input_tokens, 0);
	assert.equal(second.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens);
	assert.equal(second.usage.cache_creation_input_tokens, 0);
});

await check('openai chat.completions.create stream with tool_calls and usage', async () => {
	const want = scripted('openai-stream');
	const stream = await openai.chat.completions.create({
		model: MODEL_O, stream: true, stream_options: { include_usage: true }, tools: oaTools,
		messages: [{ role: 'system', content: '[openai-stream]' }, { role: 'user', content: 'hi' }],
	});
	let content = '';
	let finish = null;
	let usage = null;
	const calls = [];
	for await (const chunk of stream) {
		assert.equal(chunk.object, 'chat.completion.chunk');
		if (chunk.usage) usage = chunk.usage;
		for (const choice of chunk.choices) {
			if (choice.delta.content) content += choice.delta.content;
			for (const tc of choice.delta.tool_calls || []) {
				calls[tc.index] ??= { id: '', name: '', arguments: '' };
				if (tc.id) calls[tc.index].id = tc.id;
				if (tc.function?.name) calls[tc.index].name = tc.function.name;
				if (tc.function?.arguments) calls[tc.index].arguments += tc.function.arguments;
			}
			if (choice.finish_reason) finish = choice.finish_reason;
		}
	}
	assert.equal(content, want.content[0].text);
	assert.equal(finish, 'tool_calls');
	assert.equal(calls.length, 2);
	assert.deepEqual(calls.map((c) => c.name), ['glob', 'read']);
	assert.deepEqual(JSON.parse(calls[0].arguments), want.content[1].input);
	assert.deepEqual(JSON.parse(calls[1].arguments), want.content[2].input);
	assert.ok(calls.every((c) => /^call_mock_\d+$/.test(c.id)));
	assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0);
	assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
});

await check('openai chat.completions.stream helper assembles tool_calls', async () => {
	const want = scripted('openai-helper');
	const runner = openai.chat.completions.stream({
		model: MODEL_O, stream_options: { include_usage: true }, tools: oaTools,
		messages: [{ role: 'developer', content: '[openai-helper]' }, { role: 'user', content: 'hi' }],
	});
	const done = await runner.finalChatCompletion();
	const choice = done.choices[0];
	assert.equal(choice.finish_reason, 'tool_calls');
	assert.equal(choice.message.content, want.content[0].text);
	assert.equal(choice.message.tool_calls.length, 1);
	assert.equal(choice.message.tool_calls[0].function.name, 'grep');
	assert.deepEqual(JSON.parse(choice.message.tool_calls[0].function.arguments), want.content[1].input);
	assert.ok(done.usage && done.usage.total_tokens > 0);
});

await check('openai chat.completions.create (not streamed)', async () => {
	const done = await openai.chat.completions.create({
		model: MODEL_O,
		messages: [{ role: 'system', content: '[openai-create]' }, { role: 'user', content: 'hi' }],
	});
	assert.equal(done.object, 'chat.completion');
	assert.equal(done.model, MODEL_O);
	assert.equal(done.choices[0].message.content, scripted('openai-create').content[0].text);
	assert.equal(done.choices[0].finish_reason, 'stop');
	assert.ok(done.usage.total_tokens > 0);
});

await check('openai 429 -> APIError with status and type', async () => {
	const e = await rejects(openai.chat.completions.create({
		model: MODEL_O, stream: true,
		messages: [{ role: 'system', content: '[openai-429]' }, { role: 'user', content: 'hi' }],
	}));
	assert.ok(e instanceof OpenAI.APIError, `got ${e && e.constructor && e.constructor.name}`);
	assert.ok(e instanceof OpenAI.RateLimitError);
	assert.equal(e.status, 429);
	assert.equal(e.type, 'rate_limit_error');
	assert.match(e.message, /slow down/);
	assert.match(String(e.requestID), /^req_mock_\d+$/);
});

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
