/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A main() for the fuzz targets when libFuzzer is not there (no clang):
 * runs each file named on the command line, and each file in each folder
 * named, through LLVMFuzzerTestOneInput once. Arguments starting with '-'
 * (libFuzzer options) are ignored, so the same test runs either way. */

#include <stdint.h>

#include <glib.h>

/* The target's entry points. */
int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

static guint
run_file (const gchar *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *contents = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
  return 1;
}

int
main (int    argc,
      char **argv)
{
  guint runs = 0;

  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GDir) dir = NULL;
      const gchar *name;

      if (argv[i][0] == '-')
        continue;
      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          runs += run_file (argv[i]);
          continue;
        }
      dir = g_dir_open (argv[i], 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree gchar *path = g_build_filename (argv[i], name, NULL);

          runs += run_file (path);
        }
    }
  g_print ("%u inputs run\n", runs);
  return runs > 0 ? 0 : 1;
}
