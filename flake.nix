{
  description = "Flakebot: an MCP server that crafts the Rust command-line tool an agent is missing and packages it with Nix";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      packageJson = lib.importJSON ./package.json;

      # package-lock.json may leave out `resolved` (npm's omit-lockfile-registry-resolved);
      # importNpmLock fetches each module from it, so fill in the registry's tarball URL
      # (https://registry.npmjs.org/<name>/-/<basename>-<version>.tgz), checked against the
      # lock's integrity hash. No dependency hash has to be computed ahead of time.
      packageLock =
        let
          lock = lib.importJSON ./package-lock.json;
          nameOf = path: module: module.name or (lib.last (lib.splitString "node_modules/" path));
          tarball = path: module:
            let name = nameOf path module;
            in "https://registry.npmjs.org/${name}/-/${lib.last (lib.splitString "/" name)}-${module.version}.tgz";
          complete = path: module:
            if path != "" && module ? integrity && !(module ? resolved) && !(module.link or false)
            then module // { resolved = tarball path module; }
            else module;
        in
        lock // { packages = lib.mapAttrs complete lock.packages; };

      flakebot = pkgs: pkgs.buildNpmPackage {
        pname = packageJson.name;
        version = packageJson.version;
        src = self;

        npmDeps = pkgs.importNpmLock {
          npmRoot = self;
          inherit packageLock;
        };
        npmConfigHook = pkgs.importNpmLock.npmConfigHook;
        npmBuildScript = "build";
        # `npm pack` would run the prepare script (tsc) again after the dev dependencies are pruned.
        npmPackFlags = [ "--ignore-scripts" ];

        nativeBuildInputs = [ pkgs.makeWrapper ];
        # The tools Flakebot runs, after the user's own (their rustup toolchain, their nix).
        postInstall = ''
          wrapProgram $out/bin/flakebot --suffix PATH : ${lib.makeBinPath ([
            pkgs.git
            pkgs.cargo
            pkgs.rustc
            pkgs.stdenv.cc
          ] ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.bubblewrap ])}
        '';

        meta = {
          description = packageJson.description;
          license = lib.licenses.mit;
          mainProgram = "flakebot";
        };
      };
    in
    {
      packages = forAllSystems (system: pkgs: { default = flakebot pkgs; });
      apps = forAllSystems (system: pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${system}.default}/bin/flakebot";
        };
      });
      checks = forAllSystems (system: pkgs: { default = self.packages.${system}.default; });
      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${system}.default ];
          packages = [ pkgs.cargo pkgs.rustc pkgs.git ] ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.bubblewrap ];
        };
      });
    };
}
