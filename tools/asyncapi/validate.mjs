// Validates docs/asyncapi.yaml (make contract-check): the AsyncAPI parser with the Avro
// schema parser must find no error, and the document must cover the schemas: every
// message type's .avsc is the payload of exactly one message, in the channel of the topic
// its schema's doc names ("(topic X)"), and every inbound topic has its X.dlq channel.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import yaml from 'js-yaml';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const docPath = process.argv[2] ?? join(repo, 'docs', 'asyncapi.yaml');
const avroDir = process.argv[3] ?? join(repo, 'schemas', 'avro');
const problems = [];

const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const { document, diagnostics } = await fromFile(parser, docPath).parse();
const names = ['error', 'warning', 'information', 'hint'];
for (const d of diagnostics) {
  const line = `${names[d.severity]} ${d.code}: ${d.message} at ${(d.path ?? []).join('.')}`;
  if (d.severity === 0) problems.push(line);
  else if (d.code !== 'asyncapi-latest-version') console.log(line);
}

// A message type is a record whose second field is `type`, an enum of its own name.
const messageTypes = new Map(); // file name -> topic its doc names
for (const file of readdirSync(avroDir).filter((f) => f.endsWith('.avsc')).sort()) {
  const schema = JSON.parse(readFileSync(join(avroDir, file), 'utf8'));
  const second = schema.fields?.[1];
  if (schema.type === 'record' && second?.name === 'type'
      && JSON.stringify(second.type?.symbols) === JSON.stringify([schema.name])) {
    const topic = /\(topic ([a-z.-]+)\)/.exec(schema.doc ?? '')?.[1];
    if (!topic) problems.push(`${file}: its doc names no topic ("(topic X)")`);
    messageTypes.set(file, topic);
  }
}

const raw = yaml.load(readFileSync(docPath, 'utf8'));
const messageOf = new Map(); // file name -> component message names using it
for (const [name, message] of Object.entries(raw.components?.messages ?? {})) {
  const ref = message.payload?.schema?.$ref;
  if (!ref) continue;
  const file = ref.split('/').pop();
  messageOf.set(file, [...(messageOf.get(file) ?? []), name]);
  if (message.payload.schemaFormat !== 'application/vnd.apache.avro+json;version=1.9.0') {
    problems.push(`message ${name}: its payload is not marked as Avro`);
  }
}
const channelByAddress = new Map(Object.values(raw.channels).map((c) => [c.address, c]));
for (const [file, topic] of messageTypes) {
  const users = messageOf.get(file) ?? [];
  if (users.length !== 1) {
    problems.push(`${file} is the payload of ${users.length} messages (${users.join(', ')}), not one`);
    continue;
  }
  const channel = channelByAddress.get(topic);
  const inChannel = Object.values(channel?.messages ?? {})
    .some((m) => m.$ref === `#/components/messages/${users[0]}`);
  if (!inChannel) problems.push(`message ${users[0]} is not in the channel of topic ${topic}`);
}
for (const topic of new Set(messageTypes.values())) {
  if (topic !== 'case-events' && !channelByAddress.has(`${topic}.dlq`)) {
    problems.push(`topic ${topic} has no ${topic}.dlq channel`);
  }
}

if (document) {
  console.log(`asyncapi: ${docPath} is valid AsyncAPI ${document.version()}: `
    + `${document.channels().length} channels, ${document.operations().length} operations, `
    + `${document.messages().length} messages; ${messageTypes.size} message types covered`);
}
for (const p of problems) console.log(`FAIL ${p}`);
process.exit(problems.length || !document ? 1 : 0);
