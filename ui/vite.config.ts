import { defineConfig } from "vite";

// The UI is served by Vite only in development (`devUrl` in src-tauri/tauri.conf.json); release
// builds embed `dist/` in the binary.
export default defineConfig({
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    host: "localhost",
    watch: { ignored: ["**/src-tauri/**"] },
  },
  build: {
    // WebKitGTK 2.40+ (Debian 12), WebView2, Safari 16: all run ES2021.
    target: "es2021",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
  },
});
