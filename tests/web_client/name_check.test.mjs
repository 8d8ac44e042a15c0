// The pre-join page's name rules (web_client/js/name_check.js): the same verdicts as the gateway's names.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { nameProblem } from "../../web_client/js/name_check.js";

test("names people can read pass", () => {
  for (const name of ["Ann", "Олег", "Ghost", "Hostetler", "host1", "\u{1F469}\u200d\u{1F4BB} Dev"]) {
    assert.equal(nameProblem(name), "", name);
  }
});

test("names with nothing visible are refused", () => {
  for (const name of ["\u200d", "\u3164", "\u115f\u1160", "\uffa0", "\u2800", "\u0301\u0302", "\u3164 \u3164"]) {
    assert.match(nameProblem(name), /see/, JSON.stringify(name));
  }
});

test("the host badge cannot be claimed in any case or width", () => {
  for (const name of ["oleh (host)", "HOST", "[Host] Ann", "\uff08\uff48\uff4f\uff53\uff54\uff09", "h\u200dost"]) {
    assert.match(nameProblem(name), /host/, JSON.stringify(name));
  }
});
