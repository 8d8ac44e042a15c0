// The tile's connection quality indicator (web_client/js/connection_quality.js): what each level shows.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { qualityView as view } from "../../web_client/js/connection_quality.js";

// The page passes i18n.js's t in; here the same lookup over the English catalog.
const en = JSON.parse(readFileSync(new URL("../../web_client/i18n/en.json", import.meta.url), "utf8"));
const t = (key, fields = {}) => (en[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) => fields[name] ?? whole);
const qualityView = (level, mos) => view(level, mos, t);

test("only poor and lost connections are shown on the tile", () => {
  assert.equal(qualityView("excellent", 4.4).hidden, true);
  assert.equal(qualityView("good", 3.8).hidden, true);
  assert.equal(qualityView("poor", 2.2).hidden, false);
  assert.equal(qualityView("lost", 1.0).hidden, false);
});

test("the accessible name says the level, the title adds the MOS", () => {
  const poor = qualityView("poor", 2.24);
  assert.equal(poor.name, "Connection: poor");
  assert.equal(poor.title, "Connection: poor (MOS 2.2)");
  assert.equal(poor.bars, 1);
  assert.equal(qualityView("excellent", 4.36).bars, 3);
  assert.equal(qualityView("lost", 1.0).title, "Connection: lost", "no MOS for a connection nothing comes from");
  assert.equal(qualityView("lost", 1.0).bars, 0);
});

test("an unknown level shows nothing", () => {
  const view = qualityView("fair", 3.0);
  assert.deepEqual([view.level, view.hidden, view.name], ["unknown", true, "Connection: unknown"]);
});
