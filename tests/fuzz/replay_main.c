// replay_main.c: a main() for the fuzz harnesses when libFuzzer is not
// linked (gcc, or a normal build): runs LLVMFuzzerTestOneInput once on each
// file named on the command line, or on every file of each directory named.
// ctest uses it to replay the seed corpus (and any crash files added to it).
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tiny_models.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static int run_file(const char *path) {
    uint8_t *d;
    size_t len;
    if (tiny_read_file(path, &d, &len)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput(d, len);
    free(d);
    return 0;
}

int main(int argc, char **argv) {
    int bad = 0, runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            bad = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            runs++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad |= run_file(path);
            runs++;
        }
        if (dir) closedir(dir);
    }
    printf("replay: %d inputs run%s\n", runs, bad ? ", some unreadable" : "");
    return bad || runs == 0;
}
