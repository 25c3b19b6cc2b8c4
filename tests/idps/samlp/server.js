#!/usr/bin/env node
'use strict';

// Third-party SAML IdP test harness for saml-broker, built on Auth0's `samlp`.
//
//   node server.js [--port 0] --cert CERT.pem --key KEY.pem \
//       --issuer ISSUER --audience AUDIENCE --acs ACS_URL
//
// Listens on 127.0.0.1 and, once listening, writes exactly one line
// `LISTENING <port>` to stdout. Nothing else is ever written to stdout;
// diagnostics go to stderr.
//
// GET /sso?user=<name>[&InResponseTo=<id>][&RelayState=<state>]
//   -> 200 text/html auto-submit form POSTing SAMLResponse (+ RelayState) to
//      ACS_URL. Only the assertion is signed (rsa-sha256 / sha256), like ADFS.
//   -> 400 if `user` is missing, 404 if the user is unknown.

const fs = require('fs');
const { parseArgs } = require('util');
const express = require('express');
const samlp = require('samlp');
const zlib = require('zlib');

const USAGE =
  'usage: node server.js [--port N] --cert CERT.pem --key KEY.pem ' +
  '--issuer ISSUER --audience AUDIENCE --acs ACS_URL';

function die(msg) {
  process.stderr.write(msg + '\n' + USAGE + '\n');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      cert: { type: 'string' },
      key: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      acs: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  die(e.message);
}

for (const name of ['cert', 'key', 'issuer', 'audience', 'acs']) {
  if (!args[name]) die(`missing required option --${name}`);
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) die(`bad --port ${args.port}`);

let cert, key;
try {
  cert = fs.readFileSync(args.cert, 'utf8');
  key = fs.readFileSync(args.key, 'utf8');
} catch (e) {
  die(`cannot read cert/key: ${e.message}`);
}

const ATTR = {
  role: 'https://aws.amazon.com/SAML/Attributes/Role',
  roleSessionName: 'https://aws.amazon.com/SAML/Attributes/RoleSessionName',
  sessionDuration: 'https://aws.amazon.com/SAML/Attributes/SessionDuration',
  group: 'http://schemas.xmlsoap.org/claims/Group',
};
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

// Built-in users. Roles use the ADFS-style "roleArn,principalArn" pairs.
const USERS = {
  alice: {
    email: 'alice@example.com',
    roles: ['arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/DevIdP'],
    groups: ['Developers'],
  },
  carol: {
    email: 'carol@example.com',
    roles: [
      'arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/DevIdP',
      'arn:aws:iam::222222222222:role/ReadOnly,arn:aws:iam::222222222222:saml-provider/DevIdP',
      'arn:aws:iam::333333333333:role/Admin,arn:aws:iam::333333333333:saml-provider/DevIdP',
    ],
    groups: ['Developers', 'AWS-Broker-Admins'],
  },
};

// samlp profileMapper: claim URIs become the Attribute Names verbatim
// (NameFormat ...:attrname-format:uri); NameID is the e-mail address.
function profileMapper(user) {
  return {
    getClaims() {
      return {
        [ATTR.role]: user.roles.slice(),
        [ATTR.roleSessionName]: user.email,
        [ATTR.sessionDuration]: '3600',
        [ATTR.group]: user.groups.slice(),
      };
    },
    getNameIdentifier() {
      return { nameIdentifier: user.email, nameIdentifierFormat: NAMEID_EMAIL };
    },
  };
}

const baseOptions = {
  issuer: args.issuer,
  cert,
  key,
  audience: args.audience,
  recipient: args.acs,
  destination: args.acs,
  signatureAlgorithm: 'rsa-sha256',
  digestAlgorithm: 'sha256',
  lifetimeInSeconds: 300,
  signResponse: false, // only the assertion is signed (ADFS-like)
  profileMapper,
  getPostURL: (audience, samlRequestDom, req, cb) => cb(null, args.acs),
};

const app = express();

const escapeHtml = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// A browser arriving with an SP-initiated AuthnRequest (HTTP-Redirect binding)
// gets a small "who are you" page; each button continues to
// /sso?user=…&InResponseTo=<request ID>&RelayState=… below.
function loginPage(req, res) {
  let xml;
  try {
    xml = zlib.inflateRawSync(Buffer.from(String(req.query.SAMLRequest), 'base64')).toString('utf8');
  } catch (e) {
    return res.status(400).type('text/plain').send('SAMLRequest could not be inflated\n');
  }
  const m = /\sID="([^"]+)"/.exec(xml);
  if (!m) return res.status(400).type('text/plain').send('AuthnRequest has no ID\n');
  const relay = typeof req.query.RelayState === 'string' ? req.query.RelayState : '';
  const buttons = Object.keys(USERS).map((u) =>
    `<form method="get" action="/sso"><input type="hidden" name="user" value="${escapeHtml(u)}">` +
    `<input type="hidden" name="InResponseTo" value="${escapeHtml(m[1])}">` +
    `<input type="hidden" name="RelayState" value="${escapeHtml(relay)}">` +
    `<button type="submit" id="user-${escapeHtml(u)}">Sign in as ${escapeHtml(u)}</button></form>`).join('\n');
  res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>samlp test IdP</title></head>` +
    `<body><h1>samlp test IdP</h1>${buttons}</body></html>`);
}

app.get('/sso', (req, res, next) => {
  const name = typeof req.query.user === 'string' ? req.query.user : '';
  if (!name && typeof req.query.SAMLRequest === 'string') return loginPage(req, res);
  if (!name) return res.status(400).type('text/plain').send('missing user\n');
  const user = Object.prototype.hasOwnProperty.call(USERS, name) ? USERS[name] : null;
  if (!user) return res.status(404).type('text/plain').send(`unknown user ${name}\n`);

  const opts = Object.assign({}, baseOptions, { getUserFromRequest: () => user });
  // samlp normally takes InResponseTo from the parsed AuthnRequest's ID, but
  // an explicit `inResponseTo` option wins (samlp.auth: `opts.inResponseTo ||
  // id`) and is put on both the Response and SubjectConfirmationData.
  const irt = req.query.InResponseTo;
  if (typeof irt === 'string' && irt !== '') opts.inResponseTo = irt;
  // RelayState is read by samlp itself from req.query.RelayState.

  samlp.auth(opts)(req, res, next);
});

app.use((err, req, res, next) => {
  process.stderr.write(`samlp-idp error: ${err && err.stack ? err.stack : err}\n`);
  res.status(500).type('text/plain').send('internal error\n');
});

const server = app.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
server.on('error', (e) => {
  process.stderr.write(`listen failed: ${e.message}\n`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
