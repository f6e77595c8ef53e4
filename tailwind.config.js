/** @type {import('tailwindcss').Config} */
const colors = require('tailwindcss/colors');

module.exports = {
  content: ['./views/**/*.templ', './views/**/*.go', './web/**/*.go'],
  // Dark mode is off: the Console ships a single light theme. In Tailwind v3
  // `darkMode: false` silently behaves like 'media', so use the selector
  // strategy instead — `dark:` variants then only apply under a `.dark`
  // ancestor, which the Console never sets.
  darkMode: 'selector',
  // Component classes from static/css/input.css are always emitted, even
  // before any view uses them; the toast classes are only referenced from
  // static/js/app.js, which is not in `content`.
  safelist: [
    'btn', 'btn-primary', 'btn-danger', 'btn-secondary',
    'input', 'label', 'card',
    'badge', 'badge-green', 'badge-gray', 'badge-red',
    'table-base', 'field-error',
    'toast', 'toast-success', 'toast-error', 'toasts',
  ],
  theme: {
    extend: {
      colors: {
        // One neutral (zinc) + one accent (indigo).
        neutral: colors.zinc,
        accent: colors.indigo,
      },
      fontFamily: {
        sans: [
          'ui-sans-serif', 'system-ui', '-apple-system', 'Segoe UI', 'Roboto',
          'Helvetica Neue', 'Arial', 'sans-serif',
        ],
        mono: ['ui-monospace', 'SFMono-Regular', 'Menlo', 'Consolas', 'monospace'],
      },
    },
  },
  plugins: [require('@tailwindcss/forms')],
};
