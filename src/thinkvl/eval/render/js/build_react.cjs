// Compile React components for the Flame-React scorer (thinkvl.eval.render.react).
//
// Reads one JSON array of source strings on stdin; writes one JSON array of results on stdout, each
// {ok, js, error, metrics}. `js` is the component compiled to CommonJS (JSX and TypeScript stripped), to be run in the
// page with `require` limited to React; `metrics` counts what Flame's released scorer counts (hooks called, on*
// event attributes, event callbacks that update state, components declared), read from the same Babel AST.
// Nothing here runs the code: Babel only parses and prints it.
"use strict";

const babel = require("@babel/core");

const HOOKS = new Set([
  "useState", "useEffect", "useReducer", "useContext", "useCallback", "useMemo", "useRef", "useLayoutEffect",
  "useImperativeHandle",
]);

function isHook(name) {
  return HOOKS.has(name) || (name.startsWith("use") && name.length > 3);
}

function updatesState(fnPath) {
  let found = false;
  fnPath.traverse({
    CallExpression(p) {
      const callee = p.node.callee;
      if (callee.type === "Identifier" && (callee.name.startsWith("set") || callee.name === "dispatch")) found = true;
    },
  });
  return found;
}

function metricsPlugin(metrics) {
  return {
    visitor: {
      CallExpression(p) {
        const callee = p.node.callee;
        if (callee.type === "Identifier" && isHook(callee.name)) metrics.hooksUsed += 1;
      },
      JSXAttribute(p) {
        const name = p.node.name && p.node.name.name;
        if (typeof name !== "string" || !/^on[A-Z]/.test(name)) return;
        metrics.eventAttributes += 1;
        const value = p.get("value");
        if (!value.isJSXExpressionContainer()) return;
        const fn = value.get("expression");
        if ((fn.isArrowFunctionExpression() || fn.isFunctionExpression()) && updatesState(fn)) {
          metrics.eventCallbackUpdatesCount += 1;
        }
      },
      "FunctionDeclaration|ClassDeclaration"(p) {
        if (p.node.id && /^[A-Z]/.test(p.node.id.name)) metrics.components += 1;
      },
      VariableDeclarator(p) {
        if (p.node.id.type === "Identifier" && /^[A-Z]/.test(p.node.id.name)) metrics.components += 1;
      },
    },
  };
}

function compile(source) {
  const metrics = { hooksUsed: 0, eventAttributes: 0, eventCallbackUpdatesCount: 0, components: 0 };
  try {
    const out = babel.transformSync(String(source), {
      babelrc: false,
      configFile: false,
      filename: "component.tsx",
      sourceType: "module",
      presets: [
        [require.resolve("@babel/preset-typescript"), { isTSX: true, allExtensions: true }],
        [require.resolve("@babel/preset-react"), { runtime: "classic" }],
      ],
      // The metrics plugin sees the source before the presets rewrite JSX (plugins run before presets).
      plugins: [() => metricsPlugin(metrics), require.resolve("@babel/plugin-transform-modules-commonjs")],
    });
    return { ok: true, js: out.code, error: null, metrics };
  } catch (err) {
    return { ok: false, js: null, error: String(err.message || err).split("\n")[0], metrics };
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  let sources;
  try {
    sources = JSON.parse(input);
    if (!Array.isArray(sources)) throw new Error("expected a JSON array of strings");
  } catch (err) {
    process.stderr.write(`build_react: bad input: ${err.message}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(sources.map(compile)));
});
